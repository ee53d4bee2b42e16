// Public API: explicit named re-exports only. Filled in as modules land.
export { RegistryError } from './errors.js';
