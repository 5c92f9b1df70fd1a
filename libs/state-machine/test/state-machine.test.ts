import { IllegalTransition } from '@pay/errors';
import { defineStateMachine } from '../src';

describe('defineStateMachine', () => {
  const machine = defineStateMachine<'red' | 'green' | 'amber' | 'broken'>('light', { red: ['green'], green: ['amber'], amber: ['red'], broken: [] });

  it('allows exactly the moves in the table', () => {
    expect(machine.canTransition('red', 'green')).toBe(true);
    expect(machine.canTransition('red', 'amber')).toBe(false);
    expect(machine.canTransition('red', 'red')).toBe(false);
  });

  it('refuses with an error naming both states', () => {
    expect(() => machine.assertTransition('green', 'red')).toThrow(IllegalTransition);
    expect(() => machine.assertTransition('green', 'red')).toThrow("light cannot go from 'green' to 'red'");
  });

  it('knows terminal states and lists states in table order', () => {
    expect(machine.isTerminal('broken')).toBe(true);
    expect(machine.isTerminal('red')).toBe(false);
    expect(machine.states).toEqual(['red', 'green', 'amber', 'broken']);
  });
});
