/** `npm run token -- --sub <user> --role <customer|admin|auditor> [--expires 12h]`: prints a JWT. */
import { parseArgs } from 'node:util';
import { signToken } from '@pay/auth';
import { roleSchema } from '@pay/contracts';
import { readDevSession } from '@pay/harness';

const { values } = parseArgs({
  options: { sub: { type: 'string', default: 'dev-customer' }, role: { type: 'string', default: 'customer' }, expires: { type: 'string', default: '12h' } },
});
const role = roleSchema.safeParse(values.role);
if (!role.success) {
  console.error(`--role must be one of ${roleSchema.options.join(', ')}`);
  process.exit(2);
}
const session = readDevSession();
const secret = process.env.JWT_SECRET ?? session?.jwtSecret;
if (!secret) {
  console.error('no JWT_SECRET in the environment and no running dev stack (.cache/dev-session.json); run `npm start` first or set JWT_SECRET');
  process.exit(2);
}
// The audience and issuer the gateway checks: the environment's, else the running dev stack's (else the dev defaults).
const claims = { audience: process.env.JWT_AUDIENCE || session?.jwtAudience, issuer: process.env.JWT_ISSUER || session?.jwtIssuer };
console.log(signToken({ sub: values.sub!, role: role.data }, secret, values.expires as `${number}h`, claims));
