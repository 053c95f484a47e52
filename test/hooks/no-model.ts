/**
 * `node --import dist/test/hooks/no-model.js …`: a nitamono whose deep-model weights are gone
 * (as after a partial install). Worker threads inherit the flag, so the extractors lose them too.
 */
import { register } from 'node:module';

register('./no-model-hooks.js', import.meta.url);
