/// A small JSON reader for space files: every value keeps its line and column, objects keep
/// their keys in file order, and duplicate keys are refused. (Foundation's JSONSerialization
/// loses both the order and the positions.)
public struct JSONValue: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case null
        case bool(Bool)
        /// The number and its text as written (for messages: `0.5`, `1e-3`).
        case number(Double, text: String)
        case string(String)
        case array([JSONValue])
        /// Members in file order.
        case object([Member])
    }

    public struct Member: Sendable, Hashable {
        public var key: String
        public var value: JSONValue
        /// Where the key starts.
        public var line: Int
        public var column: Int
    }

    public var kind: Kind
    /// 1-based position of the value's first character.
    public var line: Int
    public var column: Int

    /// "a number", "a string", ... for messages.
    public var typeName: String {
        switch kind {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "an object"
        }
    }

    /// The value as written, shortened for messages.
    public var shortText: String {
        switch kind {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .number(_, let text): text
        case .string(let s): "\"\(s.count > 40 ? String(s.prefix(37)) + "..." : s)\""
        case .array: "[...]"
        case .object: "{...}"
        }
    }
}

/// A syntax error with its 1-based position.
public struct JSONSyntaxError: Error, Hashable, Sendable {
    public var line: Int
    public var column: Int
    public var message: String
}

public enum JSONReader {
    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        var p = Parser(bytes: bytes)
        p.skipWhitespace()
        let value = try p.parseValue(depth: 0)
        p.skipWhitespace()
        if p.index < bytes.count {
            throw p.error("unexpected \(p.describeCurrent()) after the top-level value")
        }
        return value
    }

    struct Parser {
        let bytes: [UInt8]
        var index = 0
        var line = 1
        var lineStart = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
            // Skip a UTF-8 byte-order mark.
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3; lineStart = 3 }
        }

        var column: Int {
            // Columns count characters, not bytes: skip UTF-8 continuation bytes.
            var c = 1
            var i = lineStart
            while i < index { if bytes[i] & 0xC0 != 0x80 { c += 1 }; i += 1 }
            return c
        }

        /// Where the column count last stopped: every value records its column, so on a long
        /// line (a list of a million values) counting from the line's start each time would be
        /// quadratic; this counts each byte once.
        var counted = (lineStart: 0, index: 0, column: 1)

        mutating func currentColumn() -> Int {
            if counted.lineStart != lineStart || counted.index > index { counted = (lineStart, lineStart, 1) }
            var (i, c) = (counted.index, counted.column)
            while i < index { if bytes[i] & 0xC0 != 0x80 { c += 1 }; i += 1 }
            counted = (lineStart, i, c)
            return c
        }

        func error(_ message: String) -> JSONSyntaxError {
            JSONSyntaxError(line: line, column: column, message: message)
        }

        func describeCurrent() -> String {
            guard index < bytes.count else { return "end of file" }
            let b = bytes[index]
            if b >= 0x20 && b < 0x7F { return "'\(Character(UnicodeScalar(b)))'" }
            return "byte 0x" + String(b, radix: 16)
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0D: index += 1
                case 0x0A: index += 1; line += 1; lineStart = index
                default: return
                }
            }
        }

        mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
            guard depth < 200 else { throw error("nesting deeper than 200 levels") }
            guard index < bytes.count else { throw error("unexpected end of file; expected a value") }
            let (l, c) = (line, currentColumn())
            func make(_ k: JSONValue.Kind) -> JSONValue { JSONValue(kind: k, line: l, column: c) }
            switch bytes[index] {
            case UInt8(ascii: "{"): return make(try parseObject(depth: depth))
            case UInt8(ascii: "["): return make(try parseArray(depth: depth))
            case UInt8(ascii: "\""): return make(.string(try parseString()))
            case UInt8(ascii: "t"): try literal("true"); return make(.bool(true))
            case UInt8(ascii: "f"): try literal("false"); return make(.bool(false))
            case UInt8(ascii: "n"): try literal("null"); return make(.null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return make(try parseNumber())
            default: throw error("unexpected \(describeCurrent()); expected a value")
            }
        }

        mutating func literal(_ word: String) throws(JSONSyntaxError) {
            let w = Array(word.utf8)
            guard index + w.count <= bytes.count, Array(bytes[index..<index + w.count]) == w else {
                throw error("unexpected \(describeCurrent()); expected a value")
            }
            index += w.count
        }

        mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONValue.Kind {
            index += 1
            var members: [JSONValue.Member] = []
            var seen: Set<String> = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object([]) }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                    throw error("unexpected \(describeCurrent()); expected a key in double quotes")
                }
                let (l, c) = (line, currentColumn())
                let key = try parseString()
                if seen.contains(key) {
                    throw JSONSyntaxError(line: l, column: c, message: "duplicate key \"\(key)\"")
                }
                seen.insert(key)
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                    throw error("unexpected \(describeCurrent()); expected ':' after key \"\(key)\"")
                }
                index += 1
                skipWhitespace()
                let value = try parseValue(depth: depth + 1)
                members.append(.init(key: key, value: value, line: l, column: c))
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of file; expected ',' or '}'") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                throw error("unexpected \(describeCurrent()); expected ',' or '}'")
            }
        }

        mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> JSONValue.Kind {
            index += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array([]) }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of file; expected ',' or ']'") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                throw error("unexpected \(describeCurrent()); expected ',' or ']'")
            }
        }

        mutating func parseString() throws(JSONSyntaxError) -> String {
            index += 1
            var out: [UInt8] = []
            while true {
                guard index < bytes.count else { throw error("unexpected end of file inside a string") }
                let b = bytes[index]
                if b == UInt8(ascii: "\"") { index += 1; break }
                if b < 0x20 { throw error("control character inside a string (escape it)") }
                if b != UInt8(ascii: "\\") { out.append(b); index += 1; continue }
                index += 1
                guard index < bytes.count else { throw error("unexpected end of file inside a string") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate in \\u escape")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair in \\u escape") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    index -= 1
                    throw error("invalid escape '\\\(Character(UnicodeScalar(e)))' in a string")
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw error("a string is not valid UTF-8") }
            return s
        }

        mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
            guard index + 4 <= bytes.count,
                  let v = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
                throw error("invalid \\u escape (4 hex digits expected)")
            }
            index += 4
            return v
        }

        mutating func parseNumber() throws(JSONSyntaxError) -> JSONValue.Kind {
            let start = index
            func digits(_ p: inout Parser) -> Int {
                let s = p.index
                while p.index < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.index]) { p.index += 1 }
                return p.index - s
            }
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            let intStart = index
            let n = digits(&self)
            if n == 0 { throw error("a number needs digits after '-'") }
            if n > 1, bytes[intStart] == UInt8(ascii: "0") {
                index = intStart
                throw error("numbers must not have leading zeros")
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                if digits(&self) == 0 { throw error("a number needs digits after '.'") }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                if digits(&self) == 0 { throw error("a number needs digits in its exponent") }
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            guard let d = Double(text) else { throw error("invalid number \(text)") }
            return .number(d, text: text)
        }
    }
}
