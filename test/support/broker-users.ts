import { execFile } from 'node:child_process';
import type { BrokerDefinitions } from '@pay/messaging';

/**
 * Applies a broker definitions document (buildBrokerDefinitions: users with their password hashes,
 * permissions, topic permissions, exchanges, queues, bindings) to the local RabbitMQ with one
 * `rabbitmqctl import_definitions` call (rabbitmqctl takes about a second per call), as the compose
 * broker loads them at boot. Returns the removal of its users; the test removes its queues and
 * exchanges with deleteBrokerTopology. Needs rabbitmqctl on PATH with the right to talk to the node (root).
 */
export async function applyBrokerDefinitions(definitions: BrokerDefinitions): Promise<{ deleteUsers(): Promise<void> }> {
  await rabbitmqctl(['import_definitions'], JSON.stringify(definitions)); // no file: from standard input
  return {
    deleteUsers: async () => {
      await Promise.all(definitions.users.map((user) => rabbitmqctl(['delete_user', user.name])));
    },
  };
}

function rabbitmqctl(args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('rabbitmqctl', ['--quiet', ...args], { timeout: 60_000 }, (error, _stdout, stderr) =>
      error ? reject(new Error(`rabbitmqctl ${args[0]} failed: ${stderr || error.message}`)) : resolve(),
    );
    child.stdin?.end(input ?? '');
  });
}
