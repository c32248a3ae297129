/**
 * The module list: every feature module Gatehouse runs, in dependency order (a module's
 * migrations and services come after those listed before it). Adding a feature is its folder plus
 * one line here. Embedding applications pass their own modules to `createGatehouse(config, {
 * modules: [...MODULES, mine] })` and `runCli(argv, { modules })` (the CLI's `main`) instead.
 */
import { campaignsModule } from '../campaigns/index.js';
import { challengesModule } from '../challenges/index.js';
import { speechModule } from '../speech/index.js';
import type { AnyModule } from './contract.js';

/** The feature modules shipped with Gatehouse. */
export const MODULES: readonly AnyModule[] = [challengesModule as AnyModule, campaignsModule as AnyModule, speechModule as AnyModule];
