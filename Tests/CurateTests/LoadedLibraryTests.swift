// Libraries loaded at run time (the torch bridge, libchafa): a missing library or symbol is a reason, not a crash.
import Testing
@testable import Curate

struct LoadedLibraryTests {
    @Test func aMissingLibraryOrSymbolIsAReasonNamingIt() throws {
        switch LoadedLibrary.open("/nonexistent/libnothing.so") {
        case .success: Issue.record("a library that is not there loaded")
        case .failure(let failure): #expect(failure.reason.contains("libnothing.so"), "\(failure.reason)")
        }
        let libc = try LoadedLibrary.open("libc.so.6").get()
        let strlen: @convention(c) (UnsafePointer<CChar>) -> Int = try libc.symbol("strlen")
        #expect(strlen("curate") == 6)
        #expect(throws: LoadedLibrary.Failure.self) {
            let _: @convention(c) () -> Void = try libc.symbol("chafa_symbol_map_new")
        }
        // A library without chafa's functions: chafa is unavailable, with the reason, and pictures fall back.
        guard case .failure(let unavailable) = ChafaLibrary.load("libc.so.6") else {
            Issue.record("libc passed for libchafa"); return
        }
        #expect(unavailable.reason.contains("has no chafa_") && unavailable.reason.contains("1.8 or later"), "\(unavailable.reason)")
    }
}
