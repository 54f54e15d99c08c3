// The one mark of an error in what the user gave: `curate` prints it and exits 2, having changed nothing.
/// An error in the user's input (a path, a name, a workspace, a file they pointed at, a missing set-up step),
/// whose message says what was wrong and what to do. Any other error is a failure of the run itself.
public protocol BadInput: Error, CustomStringConvertible {}
