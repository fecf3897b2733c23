/// A message that names engine options by `TrainingOption` rather than inside a string, so that each
/// front end spells them its own way: `train_size` in a space file and in `description`,
/// `--train-size` on the command line.
public struct FieldText: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringInterpolation {
    /// A piece of a message: words, or a field's name.
    public enum Piece: Hashable, Sendable {
        case text(String)
        case field(TrainingOption)
    }

    public var pieces: [Piece]

    public init(_ pieces: [Piece]) { self.pieces = pieces }
    public init(stringLiteral value: String) { pieces = [.text(value)] }

    /// The text with each field spelled by `name`.
    public func spelled(_ name: (TrainingOption) -> String) -> String {
        pieces.map { piece in
            switch piece {
            case .text(let words): words
            case .field(let f): name(f)
            }
        }.joined()
    }

    /// With space-file names.
    public var description: String { spelled { $0.rawValue } }

    public static func + (a: FieldText, b: FieldText) -> FieldText { FieldText(a.pieces + b.pieces) }
    public static func + (a: FieldText, f: TrainingOption) -> FieldText { FieldText(a.pieces + [.field(f)]) }
}

/// An engine option outside what it allows: the field at fault and what follows its name.
public struct EngineOptionProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public var field: TrainingOption
    /// What follows the field's name: ` must be >= 1 (got 0)`.
    public var detail: FieldText

    public init(_ field: TrainingOption, _ detail: FieldText) {
        self.field = field
        self.detail = detail
    }

    /// The whole message, every field spelled by `name`.
    public func message(naming name: (TrainingOption) -> String) -> String { name(field) + detail.spelled(name) }

    /// With space-file names: `train_size + val_size must be <= 60000 ...`.
    public var description: String { message { $0.rawValue } }
}
