// The version of curate, in one place: `curate --version`, the User-Agent of every request.
public let curateVersion = "0.1.0"
