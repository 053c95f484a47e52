/** Module-resolution hook for ./no-model.ts: nsfwjs's bundled weight modules cannot be found. */
type Next = (specifier: string, context: unknown) => Promise<unknown>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<unknown> {
  if (specifier.startsWith('nsfwjs/models/')) {
    throw Object.assign(new Error(`Cannot find module '${specifier}'`), { code: 'ERR_MODULE_NOT_FOUND' });
  }
  return next(specifier, context);
}
