import assert from "node:assert/strict";
import { codecImpairment, estimateMos, MOS_MODEL, mosFromR } from "../../src/sip/mos.ts";

Deno.test("estimateMos() gives 4.39 for loss-free G.711 (R = 93.2 − 0.024·40 ms)", () => {
  const m = estimateMos({ lossPercent: 0, jitterMs: 0, codec: "PCMU" });
  assert.equal(m.delayMs, 40);
  assert.equal(m.rFactor, 92.24);
  assert.equal(m.mos, 4.39);
  assert.equal(m.model, MOS_MODEL);
});

Deno.test("estimateMos() applies the codec's Ie (G.729A: 11 → R 81.24, MOS 4.07)", () => {
  const m = estimateMos({ lossPercent: 0, jitterMs: 0, codec: "G729" });
  assert.equal(m.rFactor, 81.24);
  assert.equal(m.mos, 4.07);
});

Deno.test("estimateMos() applies Ie,eff = Ie + (95 − Ie)·Ppl/(Ppl + Bpl) for random loss", () => {
  // G.711: 95·5/(5 + 25.1) = 15.78 → R = 92.24 − 15.78 = 76.46 → MOS 3.88
  const m = estimateMos({ lossPercent: 5, jitterMs: 0, codec: "PCMA" });
  assert.equal(m.rFactor, 76.46);
  assert.equal(m.mos, 3.88);
});

Deno.test("estimateMos() turns jitter into jitter-buffer delay, with the G.107 knee at 177.3 ms", () => {
  // Ta = 20 + 2·100 = 220 ms → Id = 0.024·220 + 0.11·(220 − 177.3) = 9.977
  const m = estimateMos({ lossPercent: 0, jitterMs: 100, codec: "PCMU" });
  assert.equal(m.delayMs, 220);
  assert.equal(m.rFactor, Math.round((93.2 - 9.977) * 100) / 100);
  assert.ok(m.mos < 4.2);
});

Deno.test("estimateMos() treats negative loss (duplicates) as none and clamps silly inputs", () => {
  assert.equal(estimateMos({ lossPercent: -20, jitterMs: -1, codec: "PCMU" }).mos, 4.39);
  assert.equal(estimateMos({ lossPercent: 100, jitterMs: 1e6, codec: "PCMU" }).mos, 1);
  assert.equal(estimateMos({ lossPercent: Number.NaN, jitterMs: Number.NaN, codec: "" }).mos, 4.39);
});

Deno.test("mosFromR() follows G.107 Annex B at its edges", () => {
  assert.equal(mosFromR(-5), 1);
  assert.equal(mosFromR(0), 1);
  assert.equal(mosFromR(100), 4.5);
  assert.equal(mosFromR(50), 2.58);
});

Deno.test("codecImpairment() uses G.113 values and says when it falls back", () => {
  assert.deepEqual(codecImpairment("pcmu"), { ie: 0, bpl: 25.1, tabulated: true });
  assert.deepEqual(codecImpairment("G723"), { ie: 15, bpl: 16.1, tabulated: true });
  assert.equal(codecImpairment("opus").tabulated, false);
});
