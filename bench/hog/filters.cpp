// The HOG detector's filters on real photos' fHOG pyramids: curate's (filter_plane, the AVX-512 scan's) against
// dlib's own float_spatially_filter_image_separable, part after part as scan_fhog_pyramid applies them. Prints each
// one's time (best of 5 rounds) and how many saliency values differ from dlib's bit for bit. Built by
// bench/hog/filters.sh from the bridge's own source.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include "../../Sources/CFaceBridge/face_bridge.cpp"

#include <cinttypes>

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int main(int argc, char **argv) {
#if !defined(__AVX512F__)
    std::fprintf(stderr, "no AVX-512 here: curate's scan is dlib's own\n");
    return 2;
#else
    frontal_face_detector fd = get_frontal_face_detector();
    hog_scan::detector det(fd);
    if (det.whole) { std::fprintf(stderr, "curate's scan disagreed with dlib's at start: it would not be used\n"); return 1; }
    const hog_scan::scanner_type &sc = fd.get_scanner();
    double ours = 0, theirs = 0;
    long values = 0, differing = 0, photos = 0;
    std::vector<array2d<float>> scratches;
    for (int a = 1; a < argc; ++a) {
        cv::Mat m = cv::imread(argv[a], cv::IMREAD_GRAYSCALE);
        if (m.empty()) { std::fprintf(stderr, "%s: not read\n", argv[a]); continue; }
        if (std::max(m.cols, m.rows) > 2000) {   // as curate shrinks them
            const double s = 2000.0 / std::max(m.cols, m.rows);
            cv::resize(m, m, cv::Size(), s, s, cv::INTER_AREA);
        }
        matrix<unsigned char> img(m.rows, m.cols);
        for (int r = 0; r < m.rows; ++r) std::memcpy(&img(r, 0), m.ptr(r), m.cols);
        array<array<array2d<float>>> feats;
        hog_scan::fhog_pyramid(img, feats, sc.get_cell_size(), det.window_height, det.window_width,
                               sc.get_min_pyramid_layer_width(), sc.get_min_pyramid_layer_height(), sc.get_max_pyramid_levels());
        ++photos;
        double best_ours = 1e9, best_theirs = 1e9;
        for (int round = 0; round < 5; ++round) {
            double t_ours = 0, t_theirs = 0;
            for (const auto &w : det.banks)
                for (unsigned long l = 0; l < feats.size(); ++l) {
                    array2d<float> s1, s2, scratch;
                    double t = now();
                    for (unsigned long p = 0; p < w.row_filters.size(); ++p)
                        for (unsigned long j = 0; j < w.row_filters[p].size(); ++j)
                            float_spatially_filter_image_separable(feats[l][p], s1, w.row_filters[p][j], w.col_filters[p][j],
                                                                  scratch, s1.size() != 0);
                    t_theirs += now() - t;
                    t = now();
                    bool started = false;
                    for (unsigned long p = 0; p < w.row_filters.size(); ++p)
                        hog_scan::filter_plane(feats[l][p], s2, w.row_filters[p], w.col_filters[p], scratches, started);
                    t_ours += now() - t;
                    if (round) continue;
                    values += (long)s1.size();
                    if (s1.nr() != s2.nr() || s1.nc() != s2.nc()) { differing += (long)s1.size(); continue; }
                    for (long r = 0; r < s1.nr(); ++r)
                        for (long c = 0; c < s1.nc(); ++c) differing += std::memcmp(&s1[r][c], &s2[r][c], sizeof(float)) != 0;
                }
            best_ours = std::min(best_ours, t_ours);
            best_theirs = std::min(best_theirs, t_theirs);
        }
        ours += best_ours;
        theirs += best_theirs;
    }
    if (photos == 0) { std::fprintf(stderr, "no photo read\n"); return 2; }
    std::printf("%ld photos: the filters of the five detectors, ms a photo (best of 5): dlib's %.1f, curate's %.1f (%.2fx)\n",
                photos, theirs * 1e3 / photos, ours * 1e3 / photos, theirs / ours);
    std::printf("saliency values: %ld, differing from dlib's bit for bit: %ld\n", values, differing);
    return differing == 0 ? 0 : 1;
#endif
}
