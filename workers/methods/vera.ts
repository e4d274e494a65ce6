/** VeRA (Kopiczko et al. 2024): shared frozen random projections, trainable scaling vectors. */
import { veraSpec } from '../../search/methods/vera.js';
import type { VeraConfig } from '../../search/types.js';
import { TUNER_PREFIX, modulePattern, peftModulePath, projectionPath, storedWeight } from '../export/hf-peft-parts.js';
import { VeraModule, veraProjections } from '../peft/vera.js';
import { loraSites, noAdapterHub } from './lora.js';
import type { PeftMethod } from './method.js';

export const veraMethod: PeftMethod<VeraConfig> = {
  ...veraSpec,
  salt: 0x7e4a,
  build: (config, ctx) => new VeraModule(ctx.tf, config, ctx.shape),
  merge: 'merges',
  hfPeft: {
    write(config, ctx) {
      const vectors = config.layers.flatMap((layer) =>
        loraSites({ ...config, rankPerTarget: undefined }).flatMap(({ target }) =>
          (['vera_lambda_b', 'vera_lambda_d'] as const).map((name) => {
            const v = storedWeight(ctx.weights, `${projectionPath(layer, target)}.${name}`);
            return { name: `${peftModulePath(ctx.backbone, layer, target)}.${name}`, shape: [v.data.length], data: v.data };
          }),
        ),
      );
      // The projections PEFT would draw from projection_prng_key, saved too (its save_projection default).
      const { a, b, maxIn, maxOut } = veraProjections(config, ctx.shape);
      const projections = [
        { name: 'base_model.vera_A', shape: [config.rank, maxIn], data: a },
        { name: 'base_model.vera_B', shape: [maxOut, config.rank], data: b },
      ];
      return {
        config: {
          peft_type: 'VERA',
          r: config.rank,
          target_modules: modulePattern(config.targets, config.layers),
          projection_prng_key: config.projectionSeed,
          save_projection: true,
          vera_dropout: 0.0,
          d_initial: config.dInitial ?? 0.1,
          fan_in_fan_out: false,
          bias: 'none',
          modules_to_save: ['classifier', 'score'],
          init_weights: true,
          layers_to_transform: null,
          layers_pattern: null,
        },
        tensors: [...vectors, ...projections],
        headPrefix: TUNER_PREFIX,
      };
    },
  },
  adapterHub: noAdapterHub('VeRA'),
};
