// The one way text that came from outside (a provider's licence, a label, a file name) is made safe to print.

/// `text` with every character a terminal would act on written out instead: C0 controls (ESC, BEL, CR, LF, tab...),
/// DEL, the C1 controls (U+0080–U+009F: CSI and OSC in one byte to some terminals) as `\u{1B}`, and the bidirectional
/// overrides and isolates (which reorder what follows them on the line) likewise. An OSC 52 "set the clipboard"
/// sequence in a licence thus prints as text and does nothing. Everything else, accents and emoji included, is kept.
public func printable<S: StringProtocol>(_ text: S) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        if needsEscape(scalar) {
            out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

private func needsEscape(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x00...0x1F, 0x7F...0x9F: return true
    case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true   // bidi marks, overrides, isolates
    default: return false
    }
}
