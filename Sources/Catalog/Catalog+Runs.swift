// The catalog's side of training: one row per `curate train`, with its outcome.
import Foundation
import GRDB

public enum RunStatus: String, Codable, Sendable, DatabaseValueConvertible { case running, done, interrupted, failed }

public struct TrainingRun: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "run"
    public var id: Int64?
    public var createdAt: Date
    public var model: String
    public var status: RunStatus
    public var folder: String
    public var options: String
    public var labels: [String]
    public var trainImages: Int
    public var valImages: Int
    public var accuracy: Double?
    public var macroAccuracy: Double?
    public var bestEpoch: Int?
    public var epochs: Int?
    public var seconds: Double?
    public var imagesPerSecond: Double?
    public var error: String?

    public init(model: String, options: String, labels: [String], trainImages: Int, valImages: Int) {
        self.createdAt = Date()
        self.model = model
        self.status = .running
        self.folder = ""
        self.options = options
        self.labels = labels
        self.trainImages = trainImages
        self.valImages = valImages
    }

    /// The table's columns, for requests: `TrainingRun.Columns.id`.
    public enum Columns {
        public static let id = Column(CodingKeys.id)
        public static let createdAt = Column(CodingKeys.createdAt)
        public static let model = Column(CodingKeys.model)
        public static let status = Column(CodingKeys.status)
        public static let folder = Column(CodingKeys.folder)
        public static let options = Column(CodingKeys.options)
        public static let labels = Column(CodingKeys.labels)
        public static let trainImages = Column(CodingKeys.trainImages)
        public static let valImages = Column(CodingKeys.valImages)
        public static let accuracy = Column(CodingKeys.accuracy)
        public static let macroAccuracy = Column(CodingKeys.macroAccuracy)
        public static let bestEpoch = Column(CodingKeys.bestEpoch)
        public static let epochs = Column(CodingKeys.epochs)
        public static let seconds = Column(CodingKeys.seconds)
        public static let imagesPerSecond = Column(CodingKeys.imagesPerSecond)
        public static let error = Column(CodingKeys.error)
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension Catalog {
    /// Records a new run and gives it its folder, runs/<id>.
    public func startRun(_ run: TrainingRun) throws -> TrainingRun {
        try db.write { db in
            var run = run
            try run.insert(db)
            run.folder = "runs/\(run.id!)"
            try run.update(db)
            return run
        }
    }

    public func updateRun(_ run: TrainingRun) throws {
        try db.write { db in try run.update(db) }
    }

    /// Every run, newest first.
    public func runs() throws -> [TrainingRun] {
        try db.read { db in try TrainingRun.order(TrainingRun.Columns.id.desc).fetchAll(db) }
    }

    public func run(id: Int64) throws -> TrainingRun? {
        try db.read { db in try TrainingRun.fetchOne(db, key: id) }
    }

    /// The newest run that finished.
    public func latestFinishedRun() throws -> TrainingRun? {
        try db.read { db in
            try TrainingRun.filter(TrainingRun.Columns.status == RunStatus.done).order(TrainingRun.Columns.id.desc).fetchOne(db)
        }
    }
}
