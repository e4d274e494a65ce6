/** The public surface of the search: spaces, presets, samplers, pruners, Pareto utilities. */
export type { Condition, ConditionClause, Distribution, ParamValue, SearchSpace } from './space.js';
export { InvalidSearchSpaceError, pointKey, pointProblem, samplePoint, validateSpace } from './space.js';
export type { AskRequest, ObjectiveSpec, Sampler, SamplerName, TrialObservation } from './sampler.js';
export { AskContext, AutoSampler, createSampler, DEFAULT_OBJECTIVES, LatinHypercubeSampler, MoboSampler, Nsga2Sampler, RandomSampler, RegularizedEvolutionSampler, SAMPLER_NAMES } from './sampler.js';
export type { Preset, PresetName, PresetObjectiveOptions, PresetOptions, TrialConfiguration } from './presets.js';
export { autopeftLoraPreset, autopeftPreset, getPreset, loraPreset, PRESET_NAMES, PRESETS, presetObjectives } from './presets.js';
export type { PrunerConfig, PrunerType, TrialReports } from './pruners.js';
export { InvalidPrunerError, lastReportValue, shouldPrune, validatePruner } from './pruners.js';
export type { Direction } from './pareto.js';
export { crowdingDistance, defaultReferencePoint, dominates, hypervolume, nonDominatedSort, paretoFront, toMinimization } from './pareto.js';
