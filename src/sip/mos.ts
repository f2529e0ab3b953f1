/**
 * MOS estimate from a simplified ITU-T G.107 E-model. Pure.
 *
 * Model (stated here and returned as {@link MOS_MODEL}):
 * - R = 93.2 − Id − Ie,eff (G.107 default R0 − Is − A with no echo or noise impairments).
 * - Delay impairment Id = 0.024·Ta + 0.11·(Ta − 177.3)·H(Ta − 177.3) (Cole & Rosenbluth's fit of
 *   G.107), where the one-way delay Ta is not measurable from one capture point, so it is assumed to be
 *   the jitter buffer plus packetisation: Ta = ptime + max(20 ms, 2 × mean interarrival jitter).
 * - Equipment impairment Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl / BurstR + Bpl), BurstR = 1 (random
 *   loss), Ppl = lost / expected in percent; Ie and Bpl from ITU-T G.113 Appendix I for the codec
 *   (G.711 with PLC: 0/25.1; G.729A: 11/19.0; G.723.1 6.3k: 15/16.1; GSM-FR: 20/10 (Bpl assumed);
 *   G.722 and unknown codecs use the G.711 values).
 * - MOS = 1 + 0.035·R + R·(R − 60)·(100 − R)·7·10⁻⁶, clamped to [1, 4.5].
 *
 * @module
 */

/** Planning values of a codec in the E-model. */
export interface CodecImpairment {
  /** Equipment impairment factor Ie. */
  ie: number;
  /** Packet-loss robustness factor Bpl. */
  bpl: number;
  /** Whether the values are G.113 planning values for this codec (false: a stand-in). */
  tabulated: boolean;
}

const G711: CodecImpairment = { ie: 0, bpl: 25.1, tabulated: true };

const IMPAIRMENTS: ReadonlyMap<string, CodecImpairment> = new Map([
  ["PCMU", G711],
  ["PCMA", G711],
  ["G729", { ie: 11, bpl: 19.0, tabulated: true }],
  ["G729A", { ie: 11, bpl: 19.0, tabulated: true }],
  ["G723", { ie: 15, bpl: 16.1, tabulated: true }],
  ["GSM", { ie: 20, bpl: 10, tabulated: false }],
]);

/** One-line statement of the model, returned with every estimate. */
export const MOS_MODEL: string =
  "ITU-T G.107 E-model, simplified: R = 93.2 - Id - Ie_eff; Id = 0.024*Ta + 0.11*(Ta-177.3)*H(Ta-177.3) " +
  "with Ta = ptime + max(20 ms, 2 x mean jitter) (assumed jitter-buffer delay); " +
  "Ie_eff = Ie + (95-Ie)*Ppl/(Ppl+Bpl) (random loss); Ie/Bpl from ITU-T G.113 App. I " +
  "(G.711 0/25.1, G.729A 11/19, G.723.1 15/16.1; others use G.711 values); " +
  "MOS = 1 + 0.035R + 7e-6*R(R-60)(100-R)";

/** The E-model parameters used for a codec name (case-insensitive). */
export function codecImpairment(codec: string): CodecImpairment {
  return IMPAIRMENTS.get(codec.toUpperCase()) ?? { ...G711, tabulated: false };
}

/** Inputs of {@link estimateMos}. */
export interface MosInput {
  /** Packet loss in percent of expected packets (negative values count as 0). */
  lossPercent: number;
  /** Mean interarrival jitter in ms. */
  jitterMs: number;
  /** Codec encoding name, e.g. "PCMU". */
  codec: string;
  /** Packetisation time in ms (default 20). */
  ptimeMs?: number;
}

/** Result of {@link estimateMos}. */
export interface MosEstimate {
  /** Mean opinion score, 1–4.5. */
  mos: number;
  /** Transmission rating factor R. */
  rFactor: number;
  /** Assumed one-way delay Ta in ms. */
  delayMs: number;
  /** The model, see {@link MOS_MODEL}. */
  model: string;
}

/**
 * Estimates MOS for a stream.
 *
 * @example
 * ```ts
 * estimateMos({ lossPercent: 0, jitterMs: 0, codec: "PCMU" }).mos; // ≈ 4.40
 * ```
 */
export function estimateMos(input: MosInput): MosEstimate {
  const { ie, bpl } = codecImpairment(input.codec);
  const jitter = Number.isFinite(input.jitterMs) && input.jitterMs > 0 ? input.jitterMs : 0;
  const ptime = input.ptimeMs !== undefined && input.ptimeMs > 0 ? input.ptimeMs : 20;
  const ta = ptime + Math.max(20, 2 * jitter);
  const id = 0.024 * ta + (ta > 177.3 ? 0.11 * (ta - 177.3) : 0);
  const ppl = Number.isFinite(input.lossPercent) ? Math.min(100, Math.max(0, input.lossPercent)) : 0;
  const ieEff = ie + ((95 - ie) * ppl) / (ppl + bpl);
  const r = 93.2 - id - ieEff;
  return { mos: mosFromR(r), rFactor: round(r, 2), delayMs: round(ta, 3), model: MOS_MODEL };
}

/** G.107 Annex B mapping from R to MOS (rounded to 2 decimals). */
export function mosFromR(r: number): number {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return round(Math.min(4.5, Math.max(1, 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6)), 2);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
