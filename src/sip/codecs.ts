/**
 * RTP payload types and codec facts shared by the SDP and RTP modules. Pure data.
 *
 * @module
 */

/** An RTP payload format: encoding name, RTP clock rate and channels. */
export interface PayloadFormat {
  /** Encoding name as in SDP rtpmap, e.g. "PCMU". */
  name: string;
  /** RTP timestamp clock rate in Hz. */
  clockRate: number;
  /** Audio channels (1 for video). */
  channels: number;
}

/**
 * Static payload types of RFC 3551 §6. G722 uses an 8000 Hz RTP clock although it samples at 16 kHz
 * (an RFC 1890 error kept for compatibility).
 */
export const STATIC_PAYLOAD_TYPES: ReadonlyMap<number, PayloadFormat> = new Map([
  [0, { name: "PCMU", clockRate: 8000, channels: 1 }],
  [3, { name: "GSM", clockRate: 8000, channels: 1 }],
  [4, { name: "G723", clockRate: 8000, channels: 1 }],
  [5, { name: "DVI4", clockRate: 8000, channels: 1 }],
  [6, { name: "DVI4", clockRate: 16000, channels: 1 }],
  [7, { name: "LPC", clockRate: 8000, channels: 1 }],
  [8, { name: "PCMA", clockRate: 8000, channels: 1 }],
  [9, { name: "G722", clockRate: 8000, channels: 1 }],
  [10, { name: "L16", clockRate: 44100, channels: 2 }],
  [11, { name: "L16", clockRate: 44100, channels: 1 }],
  [12, { name: "QCELP", clockRate: 8000, channels: 1 }],
  [13, { name: "CN", clockRate: 8000, channels: 1 }],
  [14, { name: "MPA", clockRate: 90000, channels: 1 }],
  [15, { name: "G728", clockRate: 8000, channels: 1 }],
  [16, { name: "DVI4", clockRate: 11025, channels: 1 }],
  [17, { name: "DVI4", clockRate: 22050, channels: 1 }],
  [18, { name: "G729", clockRate: 8000, channels: 1 }],
  [25, { name: "CelB", clockRate: 90000, channels: 1 }],
  [26, { name: "JPEG", clockRate: 90000, channels: 1 }],
  [28, { name: "nv", clockRate: 90000, channels: 1 }],
  [31, { name: "H261", clockRate: 90000, channels: 1 }],
  [32, { name: "MPV", clockRate: 90000, channels: 1 }],
  [33, { name: "MP2T", clockRate: 90000, channels: 1 }],
  [34, { name: "H263", clockRate: 90000, channels: 1 }],
]);
