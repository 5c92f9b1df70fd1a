// One MongoDB user per service, each allowed to read and write its own database only, so a service
// (or a leak of its URL) cannot touch another service's data, and no service holds the root user.
//
// Run by the mongo image's entrypoint (mongosh, as the root user from MONGO_INITDB_ROOT_USERNAME /
// MONGO_INITDB_ROOT_PASSWORD) on the first start with an empty data directory: docker-compose.yml mounts
// this file into /docker-entrypoint-initdb.d, deploy/k8s/kustomization.yaml makes it the ConfigMap
// mongo-init-users that 10-mongo.yaml mounts there. It lives under deploy/k8s because kustomize loads
// files only from inside its own directory.
//
// Safe to run again by hand (an existing user gets its password and role reset), e.g. after rotating a
// password or on a volume created before these users existed: see deploy/README.md.
//
// The passwords come from the environment, never from this file. Each goes into a service's MONGO_URL,
// so it must be URL-safe (hex is: `openssl rand -hex 24`).

const SERVICE_USERS = [
  // user (the service's name)  database (services/<name>/src/main.ts)  the variable holding its password
  { user: 'order-service', database: 'orders', passwordVariable: 'ORDER_SERVICE_MONGO_PASSWORD' },
  { user: 'payment-service', database: 'payments', passwordVariable: 'PAYMENT_SERVICE_MONGO_PASSWORD' },
  { user: 'audit-service', database: 'audit', passwordVariable: 'AUDIT_SERVICE_MONGO_PASSWORD' },
  { user: 'callback-gateway', database: 'callbacks', passwordVariable: 'CALLBACK_GATEWAY_MONGO_PASSWORD' },
];

// Unreserved URL characters only: the password is written into MONGO_URL without percent-encoding.
const URL_SAFE_PASSWORD = /^[A-Za-z0-9._~-]{16,}$/;

// Check every password before creating anyone: a half-initialised server would keep its data directory
// and never run this script again on its own. The Secret template's placeholders are refused, so a
// Secret applied unfilled fails the first start instead of creating users with a published password.
for (const { passwordVariable } of SERVICE_USERS) {
  const password = process.env[passwordVariable] ?? '';
  if (!URL_SAFE_PASSWORD.test(password) || password.includes('REPLACE_ME')) {
    throw new Error(`${passwordVariable} must be set: at least 16 URL-safe characters (letters, digits, . _ ~ -), not a placeholder`);
  }
}

// Users live in the admin database (so every MONGO_URL says ?authSource=admin); their role names the
// one database they may use.
const admin = db.getSiblingDB('admin');
for (const { user, database, passwordVariable } of SERVICE_USERS) {
  const roles = [{ role: 'readWrite', db: database }];
  const pwd = process.env[passwordVariable];
  if (admin.getUser(user) === null) {
    admin.createUser({ user, pwd, roles });
    print(`created MongoDB user ${user} (readWrite on ${database})`);
  } else {
    admin.updateUser(user, { pwd, roles });
    print(`updated MongoDB user ${user} (readWrite on ${database})`);
  }
}
