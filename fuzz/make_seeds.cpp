// Writes small seed images in every format the decoder takes (from one real photo), so each format's header
// reader and decoder path has a starting point: ../shared/data holds only JPEG, PNG, GIF and one cut WebP.
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char **argv) {
    if (argc != 3) { std::fprintf(stderr, "usage: make_seeds PHOTO OUTDIR\n"); return 2; }
    cv::Mat photo = cv::imread(argv[1], cv::IMREAD_COLOR);
    if (photo.empty()) { std::fprintf(stderr, "cannot read %s\n", argv[1]); return 1; }
    cv::Mat small, gray, bgra;
    cv::resize(photo, small, cv::Size(40, 48), 0, 0, cv::INTER_AREA);
    cv::cvtColor(small, gray, cv::COLOR_BGR2GRAY);
    cv::cvtColor(small, bgra, cv::COLOR_BGR2BGRA);
    struct Seed { const char *name; const cv::Mat *image; std::vector<int> params; };
    const Seed seeds[] = {
        {"seed.png", &small, {}}, {"seed-gray.png", &gray, {}}, {"seed-alpha.png", &bgra, {}},
        {"seed.bmp", &small, {}}, {"seed-gray.bmp", &gray, {}},
        {"seed.tif", &small, {}}, {"seed-gray.tif", &gray, {}},
        {"seed-lossy.webp", &small, {cv::IMWRITE_WEBP_QUALITY, 50}}, {"seed-lossless.webp", &small, {cv::IMWRITE_WEBP_QUALITY, 101}},
        {"seed-alpha.webp", &bgra, {cv::IMWRITE_WEBP_QUALITY, 101}},
        {"seed.jpg", &small, {cv::IMWRITE_JPEG_QUALITY, 50}}, {"seed-gray.jpg", &gray, {}},
        {"seed-progressive.jpg", &small, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}},
        {"seed-restart.jpg", &small, {cv::IMWRITE_JPEG_RST_INTERVAL, 1}},
    };
    for (const Seed &s : seeds) {
        std::string ext = std::string(s.name).substr(std::string(s.name).rfind('.'));
        std::vector<unsigned char> bytes;
        if (!cv::imencode(ext, *s.image, bytes, s.params)) { std::fprintf(stderr, "cannot encode %s\n", s.name); return 1; }
        std::string path = std::string(argv[2]) + "/" + s.name;
        FILE *f = std::fopen(path.c_str(), "wb");
        if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) return 1;
    }
    return 0;
}
