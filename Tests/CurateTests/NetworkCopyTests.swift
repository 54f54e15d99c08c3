// The face bridge keeps a parsed copy of the descriptor network beside its model file (`<model>.curate-cache`),
// which loads in a fraction of the time dlib's reading takes: descriptors from it are the model file's to the bit,
// and a copy that is damaged, or older than the model file, is not used but made again.
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport
@testable import Curate

@Suite(.enabled(if: Paths.hasShared && ProcessFixture.hasModels, "needs ../shared/data and the dlib model files (scripts/setup.sh)"))
struct NetworkCopyTests {
    @Test func theCopyGivesTheModelFilesDescriptorsAndIsMadeAgainWhenItCannotBeTrusted() throws {
        let dir = TempDir()
        let model = dir.sub(ModelFiles.resnetName)
        try FileManager.default.copyItem(at: try #require(ProcessFixture.models.resnet), to: model)
        let copy = URL(fileURLWithPath: model.path + ".curate-cache")
        let files = ModelFiles(shapePredictor: ProcessFixture.models.shapePredictor, resnet: model, cnnDetector: nil)
        let photo = try DecodedImage.decode(try Paths.bytes("single_face/opencv_course_lady.jpg"))
        // Each FaceModels loads the network again (one worker takes the one loaded; none is kept).
        func describe() throws -> [Float] {
            let models = try FaceModels(files)
            let face = try #require(try models.find(in: photo).first)
            return try #require(try models.chips(photo, faces: [face])[0].descriptor)
        }
        let start = FaceModels.networkCopyCounts
        func counts() -> (loaded: Int, written: Int) {
            let now = FaceModels.networkCopyCounts
            return (now.loaded - start.loaded, now.written - start.written)
        }
        func arranged() -> Int { FaceModels.networkCopyCounts.arranged - start.arranged }

        // Read from the model file, its convolutions' filters arranged, and the copy written.
        let read = try describe()
        #expect(FileManager.default.fileExists(atPath: copy.path))
        #expect(counts() == (0, 1))
        let layers = arranged()
        #expect(layers > 0 || ConvolutionStats.current.fastPasses == 0)   // none where dlib's convolutions run (no AVX-512)
        // Loaded from the copy: the same descriptor, bit for bit, from the filters as the copy holds them (none
        // arranged again).
        #expect(try describe() == read)
        #expect(counts() == (1, 1))
        #expect(arranged() == layers)
        // Two workers opening it together: one load; each its own network, both reading the copy's filters.
        let pair = [try FaceModels(files, workers: 2), try FaceModels(files, workers: 2)]
        for models in pair {
            let face = try #require(try models.find(in: photo).first)
            #expect(try models.chips(photo, faces: [face])[0].descriptor == read)
        }
        #expect(counts() == (2, 1))
        #expect(arranged() == layers)

        // One bit changed among the stored weights: the checksum fails, the model file is read, the copy remade.
        var bytes = try Data(contentsOf: copy)
        bytes[bytes.count - 1000] ^= 0x10
        try bytes.write(to: copy)
        #expect(try describe() == read)
        #expect(counts() == (2, 2))
        #expect(try describe() == read)
        #expect(counts() == (3, 2))

        // The model file changed since the copy was made (its modification time): read again.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: model.path)
        #expect(try describe() == read)
        #expect(counts() == (3, 3))

        // Another file of the same size put in its place with the same modification time (as `cp -p` does): its
        // status-change time tells it apart.
        var before = stat()
        #expect(stat(model.path, &before) == 0)
        let moved = dir.sub("moved.dat")
        try FileManager.default.copyItem(at: model, to: moved)
        var times = [before.st_atim, before.st_mtim]
        #expect(utimensat(AT_FDCWD, moved.path, &times, 0) == 0)
        #expect(rename(moved.path, model.path) == 0)
        var after = stat()
        #expect(stat(model.path, &after) == 0)
        #expect(after.st_size == before.st_size && after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
        #expect(try describe() == read)
        #expect(counts() == (3, 4))

        // A copy cut short is not used either.
        try Data(try Data(contentsOf: copy).prefix(4096)).write(to: copy)
        #expect(try describe() == read)
        #expect(counts() == (3, 5))
    }
}
