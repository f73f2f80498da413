//! Writing and reading S3's XML documents with `quick-xml`.
//!
//! Responses are small, flat documents, so [`XmlWriter`] appends escaped text to a
//! `String` (quick-xml's `escape` does the escaping: keys may hold `<`, `&`, quotes).
//! Request bodies (DeleteObjects, CompleteMultipartUpload, CreateBucketConfiguration) are
//! parsed into a tiny element tree, [`Element`], which the operations navigate; any
//! parse failure becomes the caller's `MalformedXML`.

use quick_xml::Reader;
use quick_xml::escape::{escape, resolve_xml_entity};
use quick_xml::events::Event;

/// The S3 document namespace.
pub const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Appends elements to an XML document that starts with the XML declaration.
#[derive(Debug)]
pub struct XmlWriter {
    out: String,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    /// A document holding only the declaration.
    pub fn new() -> Self {
        let mut out = String::with_capacity(512);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        Self { out }
    }

    /// Opens the root element with S3's namespace.
    pub fn open_root(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" xmlns=\"");
        self.out.push_str(S3_NS);
        self.out.push_str("\">");
    }

    /// Opens an element.
    pub fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Closes an element.
    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name>escaped text</name>`.
    pub fn leaf(&mut self, name: &str, text: &str) {
        self.open(name);
        self.out.push_str(&escape(text));
        self.close(name);
    }

    /// The finished document.
    pub fn finish(self) -> String {
        self.out
    }
}

/// A parsed XML element: name (without namespace prefix), text and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name.
    pub name: String,
    /// Concatenated, unescaped text directly inside this element.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// Children with this local name.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child with this local name.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

/// Parses a whole document into its root element; `None` when it is not well-formed
/// XML with exactly one root.
pub fn parse(body: &[u8]) -> Option<Element> {
    let text = std::str::from_utf8(body).ok()?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) => {
                if root.is_some() {
                    return None;
                }
                let name = std::str::from_utf8(start.local_name().as_ref())
                    .ok()?
                    .to_owned();
                stack.push(Element {
                    name,
                    ..Element::default()
                });
            }
            Event::Empty(start) => {
                let name = std::str::from_utf8(start.local_name().as_ref())
                    .ok()?
                    .to_owned();
                let element = Element {
                    name,
                    ..Element::default()
                };
                attach(&mut stack, &mut root, element)?;
            }
            Event::End(_) => {
                let element = stack.pop()?;
                attach(&mut stack, &mut root, element)?;
            }
            Event::Text(t) => {
                let s = t.decode().ok()?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return None,
                }
            }
            Event::CData(c) => stack.last_mut()?.text.push_str(&c.decode().ok()?),
            Event::GeneralRef(r) => {
                let top = stack.last_mut()?;
                if r.is_char_ref() {
                    top.text.push(r.resolve_char_ref().ok()??);
                } else {
                    let name = r.decode().ok()?;
                    top.text.push_str(resolve_xml_entity(&name)?);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if stack.is_empty() { root } else { None }
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) -> Option<()> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None if root.is_none() => *root = Some(element),
        None => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_nested_elements_and_unescapes_entities() {
        let doc = br#"<?xml version="1.0"?><Delete xmlns="x"><Object><Key>a&amp;b&#x41;</Key></Object><Quiet>true</Quiet></Delete>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Delete");
        assert_eq!(
            root.child("Object").unwrap().child_text("Key"),
            Some("a&bA")
        );
        assert_eq!(root.child_text("Quiet"), Some("true"));
    }

    #[test]
    fn parse_rejects_unclosed_and_garbage_documents() {
        assert!(parse(b"<Delete><Object>").is_none());
        assert!(parse(b"not xml at all").is_none());
        assert!(parse(b"<a></b>").is_none());
        assert!(parse(b"").is_none());
    }

    #[test]
    fn writer_escapes_text() {
        let mut w = XmlWriter::new();
        w.leaf("Key", "<\"&'>");
        assert!(w.finish().ends_with("<Key>&lt;&quot;&amp;&apos;&gt;</Key>"));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_on_arbitrary_text(text in "[<>/a-zA-Z&;#x0-9 \"=?!\\[\\]-]{0,120}") {
            let _ = parse(text.as_bytes());
        }
    }
}
