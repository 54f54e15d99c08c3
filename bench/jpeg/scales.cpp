// What libjpeg's DCT scaling costs at each scale, beside the whole decode and OpenCV's shrink to the detector's
// 2,000 px: a real photo scaled up (Lanczos) to SIDE px on its longer side, saved as JPEG quality 90, decoded at
// N/8 for N = 8, 7, 6, 4, 2, 1 (the best of 7 runs each). bench/jpeg/scales.sh builds and runs it.
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <jpeglib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

static void decode(const std::vector<unsigned char> &bytes, int num, cv::Mat &out) {
    jpeg_decompress_struct c;
    jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, bytes.data(), bytes.size());
    jpeg_read_header(&c, TRUE);
    c.out_color_space = JCS_EXT_BGR;
    c.scale_num = num;
    c.scale_denom = 8;
    jpeg_start_decompress(&c);
    out.create(c.output_height, c.output_width, CV_8UC3);
    while (c.output_scanline < c.output_height) {
        JSAMPROW row = out.ptr(c.output_scanline);
        jpeg_read_scanlines(&c, &row, 1);
    }
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
}

template <typename F> static double best(F f) {
    double b = 1e9;
    for (int i = 0; i < 7; ++i) { double t = now(); f(); b = std::min(b, now() - t); }
    return b * 1e3;
}

int main(int argc, char **argv) {
    if (argc < 3) { std::fprintf(stderr, "usage: scales PHOTO SIDE\n"); return 2; }
    cv::Mat photo = cv::imread(argv[1]), big;
    const double s = std::atof(argv[2]) / std::max(photo.cols, photo.rows);
    cv::resize(photo, big, cv::Size(), s, s, cv::INTER_LANCZOS4);
    std::vector<unsigned char> bytes;
    cv::imencode(".jpg", big, bytes, {cv::IMWRITE_JPEG_QUALITY, 90});
    cv::Mat m;
    for (int num : {8, 7, 6, 4, 2, 1}) {
        const double ms = best([&] { decode(bytes, num, m); });
        std::printf("  decode %d/8   %5dx%-5d %7.1f ms\n", num, m.cols, m.rows, ms);
    }
    decode(bytes, 8, m);
    // As curate_image_resized shrinks: a whole factor by area, the rest (under 2x) bilinear.
    const int longer = std::max(m.cols, m.rows), whole = longer / 2000;
    const cv::Size target(m.cols * 2000 / longer, m.rows * 2000 / longer);
    cv::Mat area, shrunk;
    std::printf("  shrink the whole decode to 2000 px (as curate does)  %7.1f ms\n", best([&] {
        cv::Mat src = m;
        if (whole >= 2) { cv::resize(m, area, cv::Size(), 1.0 / whole, 1.0 / whole, cv::INTER_AREA); src = area; }
        cv::resize(src, shrunk, target, 0, 0, cv::INTER_LINEAR);
    }));
    return 0;
}
