/**
 * Pieces the AdapterHub (`adapters`) weight writers of several methods share: a project linear
 * layer (`[in, out]` kernel and bias) as a PyTorch `nn.Linear` (`weight` `[out, in]`, `bias`), and
 * the module paths `adapters` gives its layers inside a BERT/RoBERTa encoder.
 */
import type { TensorToWrite } from '../model/safetensors.js';
import { storedWeight, transpose } from './hf-peft-parts.js';
import type { NamedArray } from './weights.js';

/** `{prefix}.weight` `[out, in]` and `{prefix}.bias` from our `{ours}.kernel` `[in, out]` and `{ours}.bias`. */
export function torchLinear(weights: ReadonlyMap<string, NamedArray>, ours: string, prefix: string): TensorToWrite[] {
  const kernel = storedWeight(weights, `${ours}.kernel`);
  const [dIn, dOut] = kernel.shape as [number, number];
  const bias = storedWeight(weights, `${ours}.bias`);
  return [
    { name: `${prefix}.weight`, shape: [dOut, dIn], data: transpose(kernel.data, dIn, dOut) },
    { name: `${prefix}.bias`, shape: [dOut], data: bias.data },
  ];
}

/**
 * A bottleneck adapter (`adapters`' `Adapter` module): `adapter_down` is `Sequential(Linear,
 * activation)`, hence `adapter_down.0`; `adapter_up` a Linear; a UniPELT `gate` a Linear to 1.
 */
export function bottleneckTensors(weights: ReadonlyMap<string, NamedArray>, ours: string, hub: string, gated: boolean): TensorToWrite[] {
  return [
    ...torchLinear(weights, `${ours}.adapter_down`, `${hub}.adapter_down.0`),
    ...torchLinear(weights, `${ours}.adapter_up`, `${hub}.adapter_up`),
    ...(gated ? torchLinear(weights, `${ours}.gate`, `${hub}.gate`) : []),
  ];
}

/** Where `adapters` keeps a layer's bottleneck adapters: after the attention block or the FFN. */
export function bottleneckHubPath(backbone: string, layer: number, sublayer: 'attention' | 'ffn', name: string): string {
  return `${backbone}encoder.layer.${layer}.${sublayer === 'attention' ? 'attention.output' : 'output'}.adapters.${name}`;
}
