// Which subcategories of a person's Commons category are about the person themself, by Commons' naming conventions
// for people (Commons:Categories of people): "NAME in 2019", "NAME at EVENT", "Portraits of NAME", "NAME with
// OTHER" are photos of them; "Family of NAME", "Signatures of NAME", "Works by NAME" are of other people or of no one.

import Foundation

/// The rule a subcategory's name is judged by. Read it top to bottom; change the lists to change what is walked.
public enum SubcategoryRule {
    public enum Judgement: Equatable, Sendable {
        case walk
        case skip(String)
    }

    /// Words before the person's name that make a category about someone or something else.
    static let otherThanThePerson: [(words: String, why: String)] = [
        ("family of", "their family"), ("families of", "their family"), ("children of", "their family"),
        ("parents of", "their family"), ("relatives of", "their family"), ("spouses of", "their family"),
        ("wives of", "their family"), ("husbands of", "their family"), ("descendants of", "their family"),
        ("ancestors of", "their family"), ("house of", "their family"),
        ("signatures of", "signatures"), ("signature of", "signatures"), ("autographs of", "signatures"),
        ("works by", "their works"), ("works of", "their works"), ("paintings by", "their works"), ("drawings by", "their works"),
        ("photographs by", "their works"), ("photos by", "their works"), ("books by", "their works"), ("writings by", "their works"),
        ("texts by", "their works"), ("letters by", "their works"), ("films by", "their works"), ("music by", "their works"),
        ("albums by", "their works"), ("songs by", "their works"), ("designs by", "their works"), ("buildings by", "their works"),
        ("paintings of", "pictures made, not photos"), ("drawings of", "pictures made, not photos"),
        ("caricatures of", "pictures made, not photos"), ("cartoons of", "pictures made, not photos"),
        ("sculptures of", "pictures made, not photos"), ("statues of", "monuments"), ("busts of", "monuments"),
        ("monuments to", "monuments"), ("memorials to", "monuments"), ("graves of", "monuments"), ("grave of", "monuments"),
        ("tomb of", "monuments"), ("plaques of", "monuments"),
        ("houses of", "places"), ("residences of", "places"), ("homes of", "places"), ("birthplace of", "places"),
        ("coats of arms of", "emblems"), ("logos of", "emblems"), ("flags of", "emblems"),
        ("stamps of", "objects"), ("coins of", "objects"), ("banknotes of", "objects"), ("awards of", "objects"),
        ("audio files of", "not images"), ("videos of", "not images"), ("sound files of", "not images"),
        ("named after", "named after them"),
    ]

    /// Words after the person's name that do the same.
    static let otherAfterTheName: [(words: String, why: String)] = [
        ("family", "their family"), ("'s family", "their family"), ("-related", "things related to them"),
        ("related", "things related to them"), ("signatures", "signatures"), ("signature", "signatures"),
        ("works", "their works"), ("discography", "their works"), ("(band)", "another subject of the same name"),
        ("(film)", "another subject of the same name"), ("(album)", "another subject of the same name"),
        ("(ship)", "another subject of the same name"), ("(song)", "another subject of the same name"),
        ("(book)", "another subject of the same name"), ("(play)", "another subject of the same name"),
    ]

    /// Whether the subcategory `title` of the category named `root` (both without "Category:") is walked.
    public static func judge(_ title: String, root: String) -> Judgement {
        let name = root.lowercased(), text = strip(title).lowercased()
        guard let at = text.range(of: name) else { return .skip("its name does not contain \(strip(root))") }
        let before = text[..<at.lowerBound].trimmingCharacters(in: .whitespaces)
        let after = text[at.upperBound...].trimmingCharacters(in: .whitespaces)
        for rule in otherThanThePerson where before.hasSuffix(rule.words) { return .skip("\(rule.words) \(strip(root)): \(rule.why)") }
        for rule in otherThanThePerson where rule.words == "named after" && (before + " " + after).contains(rule.words) {
            return .skip("named after \(strip(root))")
        }
        for rule in otherAfterTheName where after.hasPrefix(rule.words) { return .skip("\(strip(root)) \(rule.words): \(rule.why)") }
        return .walk
    }

    static func strip(_ title: String) -> String {
        title.hasPrefix("Category:") ? String(title.dropFirst("Category:".count)) : title
    }
}
