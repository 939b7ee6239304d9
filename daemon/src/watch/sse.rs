//! A Server-Sent Events reader: bytes in, frames out (the WHATWG
//! `text/event-stream` rules this CLI needs: `event`, `data`, `id`,
//! comments, LF or CRLF line ends).

/// Longest line accepted; a server sending more is broken or hostile.
const MAX_LINE: usize = 1 << 20;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The `event` field (`message` when absent).
    pub event: String,
    /// The `id` field, when the frame had one.
    pub id: Option<String>,
    /// The `data` lines, joined with newlines.
    pub data: String,
}

/// Splits a byte stream into frames.
#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    event: Option<String>,
    id: Option<String>,
    data: Option<String>,
}

/// The stream broke the format's limits.
#[derive(Debug, thiserror::Error)]
#[error("the event stream sent a line longer than {MAX_LINE} bytes")]
pub struct LineTooLong;

impl Parser {
    /// Takes the next bytes; returns the frames they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Frame>, LineTooLong> {
        let mut frames = Vec::new();
        for &byte in bytes {
            if byte != b'\n' {
                if self.line.len() >= MAX_LINE {
                    return Err(LineTooLong);
                }
                self.line.push(byte);
                continue;
            }
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if let Some(frame) = self.take_line(&String::from_utf8_lossy(&line)) {
                frames.push(frame);
            }
        }
        Ok(frames)
    }

    fn take_line(&mut self, line: &str) -> Option<Frame> {
        if line.is_empty() {
            let data = self.data.take();
            let event = self.event.take();
            let id = self.id.take();
            return data.map(|data| Frame {
                event: event.unwrap_or_else(|| "message".into()),
                id,
                data,
            });
        }
        if line.starts_with(':') {
            return None; // a comment: the server's keep-alive
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.event = Some(value.to_string()),
            "id" => self.id = Some(value.to_string()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere_are_reassembled() {
        let stream = b": keep-alive\n\nevent: snapshot\r\nid: 12\r\ndata: {\"a\":\ndata: 1}\r\n\r\nevent: worker.activity\ndata: x\n\n";
        for split in 0..stream.len() {
            let mut parser = Parser::default();
            let mut frames = parser.push(&stream[..split]).unwrap();
            frames.extend(parser.push(&stream[split..]).unwrap());
            assert_eq!(
                frames,
                [
                    Frame {
                        event: "snapshot".into(),
                        id: Some("12".into()),
                        data: "{\"a\":\n1}".into()
                    },
                    Frame {
                        event: "worker.activity".into(),
                        id: None,
                        data: "x".into()
                    }
                ]
            );
        }
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut parser = Parser::default();
        assert!(parser.push(&vec![b'x'; MAX_LINE + 1]).is_err());
    }
}
