/** Named dependency checks (database, broker): the service is ready when every one answers true. */
export type Readiness = Record<string, () => Promise<boolean> | boolean>;

/** Runs every check; one that throws counts as not ready. */
export async function checkReadiness(readiness: Readiness): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
  const checks: Record<string, boolean> = {};
  for (const [name, check] of Object.entries(readiness)) {
    try {
      checks[name] = await check();
    } catch {
      checks[name] = false;
    }
  }
  return { ready: Object.values(checks).every(Boolean), checks };
}
