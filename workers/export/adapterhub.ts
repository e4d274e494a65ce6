/**
 * AdapterHub (`adapters` library) `adapter_config.json`: one child configuration per module, a
 * `union` of them for hybrids, `leave_out` listing the layers without the module.
 */
import { isRefusal } from '../methods/method.js';
import { presentMethods } from '../methods/registry.js';
import type { EncoderShape, PeftConfig } from '../../search/types.js';
import { ExportError } from './errors.js';

/** Who the adapter is for. */
export interface AdapterHubTarget {
  modelType: 'bert' | 'roberta';
  /** Base model name or path, e.g. `bert-base-uncased`. */
  modelName: string;
  /** Adapter name. */
  name: string;
}

/** An `adapter_config.json` and what a user should know about it. */
export interface AdapterHubExport {
  file: Record<string, unknown>;
  /** Ways in which `adapters` would read the configuration differently or refuse it. */
  warnings: string[];
}

/** The `adapters` version whose configuration keys this writes. */
export const ADAPTERS_VERSION = 'adapters.1.2.0';

/**
 * The `config` object(s) of the configuration, before wrapping, in the methods' union positions.
 * A method `adapters` does not have adds a warning (its weights stay in the project export); a
 * configuration `adapters` would misread throws {@link ExportError} from the method's writer.
 */
function childConfigs(peft: PeftConfig, shape: EncoderShape, warnings: string[]): Record<string, unknown>[] {
  const ctx = { shape, gates: peft.gates ?? {}, warnings };
  // Refusals are noted after every child, so a union's warnings read in its children's order.
  const steps = presentMethods(peft).map(({ method, config }) => {
    const hub = method.adapterHub;
    return isRefusal(hub)
      ? { position: Number.POSITIVE_INFINITY, run: (): Record<string, unknown>[] => (warnings.push(hub.refusal), []) }
      : { position: hub.position, run: (): Record<string, unknown>[] => hub.children(config, ctx) };
  });
  return steps.sort((x, y) => x.position - y.position).flatMap((step) => step.run());
}

/** Conflicts `adapters`' ConfigUnion.validate would raise (it checks only children without `leave_out`). */
function unionWarnings(children: readonly Record<string, unknown>[], warnings: string[]): void {
  for (let i = 0; i < children.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = children[i]!;
      const b = children[j]!;
      if (a.architecture !== b.architecture) continue;
      const hasLeaveOut = (c: Record<string, unknown>): boolean => Array.isArray(c.leave_out) && c.leave_out.length > 0;
      if (hasLeaveOut(a) || hasLeaveOut(b)) continue;
      const bottlenecks = a.architecture === undefined;
      if (bottlenecks && a.mh_adapter !== b.mh_adapter && a.output_adapter !== b.output_adapter) continue;
      warnings.push(
        `adapters' ConfigUnion refuses two ${bottlenecks ? 'bottleneck adapters at the same location' : `"${String(a.architecture)}" children`} when neither has a leave_out list; load the children as separate adapters or skip the union's validation`,
      );
    }
  }
}

/**
 * The AdapterHub `adapter_config.json` of a configuration. Throws {@link ExportError} for a
 * module AdapterHub cannot express (LoRA on the attention output, LoRA with several ranks) or an
 * empty configuration.
 */
export function adapterHubConfig(peft: PeftConfig, shape: EncoderShape, target: AdapterHubTarget): AdapterHubExport {
  const warnings: string[] = [];
  const children = childConfigs(peft, shape, warnings);
  if (children.length === 0) throw new ExportError('the configuration has no module AdapterHub can describe');
  unionWarnings(children, warnings);
  const config = children.length === 1 ? children[0]! : { architecture: 'union', configs: children };
  return {
    file: {
      config,
      hidden_size: shape.hiddenSize,
      model_class: target.modelType === 'roberta' ? 'RobertaAdapterModel' : 'BertAdapterModel',
      model_name: target.modelName,
      model_type: target.modelType,
      name: target.name,
      version: ADAPTERS_VERSION,
    },
    warnings,
  };
}
