// Empirical cascade: score from the K separable parts of largest norm, the rest only where that partial score is
// within a margin of the threshold. Per K: the deficit (thr - partial) over every position whose full score reaches
// the threshold (what a margin must cover), and for margins of 1x, 1.5x, 2x the largest deficit seen, the share of
// positions and of 8x16 tiles that would go on to the full score.
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <cstdio>
using namespace dlib;
typedef scan_fhog_pyramid<pyramid_down<6>> scanner_type;
int main(int argc, char **argv) {
    frontal_face_detector det = get_frontal_face_detector();
    const scanner_type &sc = det.get_scanner();
    const int nb = det.num_detectors();
    std::vector<int> Ks = {8, 12, 16, 20, 31};
    std::vector<scanner_type::fhog_filterbank> banks;
    std::vector<double> thr;
    std::vector<std::vector<std::pair<int,int>>> order(nb);  // parts by norm, largest first
    long totalparts = 0;
    for (int b = 0; b < nb; ++b) {
        banks.push_back(sc.build_fhog_filterbank(det.get_w(b)));
        thr.push_back(det.get_w(b)(sc.get_num_dimensions()));
        auto &w = banks[b];
        std::vector<std::tuple<double,int,int>> comps;
        for (int p = 0; p < 31; ++p) for (unsigned j = 0; j < w.row_filters[p].size(); ++j)
            comps.emplace_back(length(matrix_cast<double>(w.row_filters[p][j])) * length(matrix_cast<double>(w.col_filters[p][j])), p, j);
        std::sort(comps.rbegin(), comps.rend());
        for (auto &c : comps) order[b].push_back({std::get<1>(c), std::get<2>(c)});
        totalparts += comps.size();
    }
    // per K: deficits at detections; (partial - thr) at every position, for the survivor counts afterwards
    std::vector<double> maxdef(Ks.size(), -1e9);
    std::vector<std::vector<float>> gap(Ks.size());          // partial - thr, every position
    std::vector<std::vector<long>> tileid(Ks.size());
    long dets = 0, positions = 0, tilecount = 0;
    for (int i = 1; i < argc; ++i) {
        cv::Mat m = cv::imread(argv[i], cv::IMREAD_GRAYSCALE);
        if (m.empty()) continue;
        double s = 2000.0 / std::max(m.cols, m.rows);
        if (s < 1) cv::resize(m, m, cv::Size(), s, s, cv::INTER_LINEAR);
        array2d<unsigned char> t1(m.rows, m.cols), t2;
        for (int r = 0; r < m.rows; ++r) memcpy(&t1[r][0], m.ptr(r), m.cols);
        pyramid_down<6> pyr;
        while (t1.nr() >= 80 && t1.nc() >= 80) {
            dlib::array<array2d<float>> hog;
            extract_fhog_features(t1, hog, 8, 10, 10);
            const long nr = hog[0].nr(), nc = hog[0].nc();
            for (int b = 0; b < nb; ++b) {
                auto &w = banks[b];
                array2d<float> acc, scratch;
                acc.set_size(nr, nc); assign_all_pixels(acc, 0);
                std::vector<array2d<float>> partial(Ks.size());
                rectangle area;
                for (size_t k = 0; k < order[b].size(); ++k) {
                    auto [p, j] = order[b][k];
                    area = float_spatially_filter_image_separable(hog[p], acc, w.row_filters[p][j], w.col_filters[p][j], scratch, true);
                    for (size_t q = 0; q < Ks.size(); ++q)
                        if ((long)k + 1 == std::min<long>(Ks[q], order[b].size())) { partial[q].set_size(nr, nc); for (long r = 0; r < nr; ++r) for (long c = 0; c < nc; ++c) partial[q][r][c] = acc[r][c]; }
                }
                const long tilebase = tilecount;
                tilecount += (nr / 8 + 1) * (nc / 16 + 1);
                for (long r = area.top(); r <= area.bottom(); ++r) for (long c = area.left(); c <= area.right(); ++c) {
                    positions++;
                    const bool isdet = acc[r][c] >= thr[b];
                    if (isdet) dets++;
                    for (size_t q = 0; q < Ks.size(); ++q) {
                        const double g = partial[q][r][c] - thr[b];
                        if (isdet) maxdef[q] = std::max(maxdef[q], -g);
                        gap[q].push_back((float)g);
                        tileid[q].push_back(tilebase + (r / 8) * (nc / 16 + 1) + c / 16);
                    }
                }
            }
            pyr(t1, t2); swap(t1, t2);
        }
    }
    printf("%ld positions, %ld tiles, %ld positions at or over the threshold; %ld parts over the %d filters\n", positions, tilecount, dets, totalparts, nb);
    for (size_t q = 0; q < Ks.size(); ++q) {
        printf("K %2d parts a filter: largest deficit at a detection %.3f;", Ks[q], maxdef[q]);
        for (double f : {1.0, 1.5, 2.0}) {
            const double margin = std::max(0.0, maxdef[q]) * f;
            long keep = 0; std::vector<char> t(tilecount, 0);
            for (size_t i = 0; i < gap[q].size(); ++i) if (gap[q][i] >= -margin) { keep++; t[tileid[q][i]] = 1; }
            long kt = 0; for (char x : t) kt += x;
            const double frac = (double)kt / tilecount, share = (double)Ks[q] * nb / totalparts;
            printf("  margin %.2f: positions %.3f tiles %.3f (work %.2f)", margin, (double)keep / positions, frac, share + (1 - share) * frac);
        }
        printf("\n");
    }
}
