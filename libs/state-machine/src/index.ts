import { IllegalTransition } from '@pay/errors';

export interface StateMachine<S extends string> {
  readonly name: string;
  readonly states: readonly S[];
  readonly transitions: Readonly<Record<S, readonly S[]>>;
  canTransition(from: S, to: S): boolean;
  /** Throws IllegalTransition (409, names both states) for a move outside the table. */
  assertTransition(from: S, to: S): void;
  isTerminal(state: S): boolean;
}

export function defineStateMachine<S extends string>(name: string, transitions: Readonly<Record<S, readonly S[]>>): StateMachine<S> {
  const states = Object.keys(transitions) as S[];
  const canTransition = (from: S, to: S) => transitions[from]?.includes(to) ?? false;
  return {
    name,
    states,
    transitions,
    canTransition,
    assertTransition(from, to) {
      if (!canTransition(from, to)) throw new IllegalTransition(name, from, to);
    },
    isTerminal: (state) => transitions[state].length === 0,
  };
}
