/// Client-supplied text made safe for a log line or an error message: control characters and
/// quotes escaped, at most `limit` characters, with the length said when cut.
enum LogText {
    static let limit = 64

    static func safe(_ s: String, limit: Int = LogText.limit) -> String {
        var out = ""
        var count = 0
        for scalar in s.unicodeScalars {
            if count >= limit {
                return out + "…(\(s.utf8.count) bytes)"
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) || (0x2028...0x2029).contains(scalar.value) {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
            count += 1
        }
        return out
    }
}
