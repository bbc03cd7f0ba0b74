//! The signaling payloads of the mesh: JSON objects that travel as the opaque `payload` of the
//! protocol's `Signal` messages, exactly as the browser package's `WebRtcProvider` writes them,
//! so native and browser peers pair up. Every payload carries `n`, the sender's mesh id (16
//! lowercase hex digits): relay peer ids are connection ids, renumbered when the relay restarts.
//!
//! | `t` | meaning | fields |
//! |---|---|---|
//! | `hi` | "I am here": of two greeted peers, the smaller mesh id makes the offer | |
//! | `busy` | at the cap of direct links: stay on the relay | |
//! | `offer`, `answer` | the session descriptions | `sdp` |
//! | `ice` | one ICE candidate (trickled) | `c: { candidate, sdpMid, sdpMLineIndex }` |

use serde::{Deserialize, Serialize};

/// One ICE candidate, as `RTCIceCandidate.toJSON()` writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceCandidate {
    /// The `candidate:...` attribute.
    pub candidate: String,
    /// The media section's id.
    #[serde(rename = "sdpMid", default)]
    pub sdp_mid: Option<String>,
    /// The media section's index.
    #[serde(rename = "sdpMLineIndex", default)]
    pub sdp_m_line_index: Option<u16>,
}

/// What a signal asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A greeting.
    Hi,
    /// No room for a direct link.
    Busy,
    /// An SDP offer.
    Offer(String),
    /// An SDP answer.
    Answer(String),
    /// A trickled ICE candidate.
    Ice(IceCandidate),
}

/// A decoded signaling payload: who sent it (mesh id) and what it asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// The sender's mesh id.
    pub mesh_id: u64,
    /// What it asks.
    pub kind: Kind,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    t: String,
    n: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sdp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<IceCandidate>,
}

/// A mesh id as 16 lowercase hex digits.
pub fn mesh_id_string(id: u64) -> String {
    format!("{id:016x}")
}

impl Payload {
    /// The JSON bytes.
    pub fn encode(&self) -> Vec<u8> {
        let (t, sdp, c) = match &self.kind {
            Kind::Hi => ("hi", None, None),
            Kind::Busy => ("busy", None, None),
            Kind::Offer(sdp) => ("offer", Some(sdp.clone()), None),
            Kind::Answer(sdp) => ("answer", Some(sdp.clone()), None),
            Kind::Ice(c) => ("ice", None, Some(c.clone())),
        };
        let wire = Wire {
            t: t.into(),
            n: mesh_id_string(self.mesh_id),
            sdp,
            c,
        };
        // A struct of strings always serializes.
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// Parses a payload; `None` for anything that is not a signal of the mesh (another app's
    /// signaling, a malformed or hostile payload).
    pub fn decode(bytes: &[u8]) -> Option<Payload> {
        let wire: Wire = serde_json::from_slice(bytes).ok()?;
        let valid = wire.n.len() == 16
            && wire
                .n
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return None;
        }
        let mesh_id = u64::from_str_radix(&wire.n, 16).ok()?;
        let kind = match (wire.t.as_str(), wire.sdp, wire.c) {
            ("hi", _, _) => Kind::Hi,
            ("busy", _, _) => Kind::Busy,
            ("offer", Some(sdp), _) => Kind::Offer(sdp),
            ("answer", Some(sdp), _) => Kind::Answer(sdp),
            ("ice", _, Some(c)) => Kind::Ice(c),
            _ => return None,
        };
        Some(Payload { mesh_id, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_read_the_browsers_json() {
        let ice = IceCandidate {
            candidate: "candidate:1 1 udp 2113937151 127.0.0.1 5000 typ host".into(),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
        };
        for kind in [
            Kind::Hi,
            Kind::Busy,
            Kind::Offer("v=0".into()),
            Kind::Answer("v=0".into()),
            Kind::Ice(ice),
        ] {
            let payload = Payload {
                mesh_id: 0x00ab_cdef_0123_4567,
                kind,
            };
            assert_eq!(Payload::decode(&payload.encode()), Some(payload));
        }
        // As webrtc.js writes them.
        let browser = br#"{"t":"ice","c":{"candidate":"candidate:2 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"x"},"n":"00000000000000ff"}"#;
        assert!(matches!(
            Payload::decode(browser),
            Some(Payload {
                mesh_id: 0xff,
                kind: Kind::Ice(_)
            })
        ));
    }

    #[test]
    fn foreign_and_malformed_payloads_are_not_signals() {
        for bytes in [
            &b"not json"[..],
            br#"{"t":"hi"}"#,
            br#"{"t":"hi","n":"ff"}"#,
            br#"{"t":"hi","n":"00000000000000FF"}"#,
            br#"{"t":"offer","n":"00000000000000ff"}"#,
            br#"{"t":"dance","n":"00000000000000ff"}"#,
        ] {
            assert_eq!(
                Payload::decode(bytes),
                None,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}
