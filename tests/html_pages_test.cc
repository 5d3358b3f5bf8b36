// The HTML pages tinylm writes, opened in a real browser: two ablations trained by the ablate
// executable, then tests/browser/check_pages.py drives headless Chromium over report.html and
// the leaderboard index.html (table, curves, spec diff, sorting by header clicks, filters, no
// network) and saves screenshots in the build tree (tests/screenshots/).
#include <filesystem>

#include "ablate_cli.h"

namespace tinylm::testing {
namespace {

class HtmlPages : public AblateCli {};

TEST_F(HtmlPages, ReportAndLeaderboardWorkInARealBrowser) {
  // A second ablation of the same base, so the leaderboard has rows to sort and filter.
  dir_.Write("specs/narrow_mlp.pbtxt", "base: \"base.pbtxt\"\ndescription: \"a narrower SwiGLU\"\n"
                                       "model { block { layer { } layer { residual { mixer { swiglu { hidden: 8 } } } } } }\n");
  for (const std::string& spec : {spec_, dir_.path() + "/specs/narrow_mlp.pbtxt"}) {
    const Result r = Ablate(spec + " --speed-rounds 1");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("all ablations in " + dir_.path() + "/out: " + dir_.path() + "/out/index.html"), std::string::npos) << r.out;
  }
  const std::string shots = TINYLM_SCREENSHOT_DIR;
  std::filesystem::remove_all(shots);
  const Result check = RunCommand("/usr/bin/python3 " TINYLM_SOURCE_DIR "/tests/browser/check_pages.py --report " + dir_.path() +
                                  "/out/qk_off/report.html --runs-per-arm 2 --index " + dir_.path() +
                                  "/out/index.html --ablations 2 --screenshots " + shots);
  EXPECT_EQ(check.code, 0) << check.out;
  EXPECT_NE(check.out.find("0 failures"), std::string::npos) << check.out;
  for (const char* png : {"report.png", "index.png"})
    EXPECT_GT(std::filesystem::file_size(shots + "/" + png), 10000u) << png << " should be a real screenshot";
}

}  // namespace
}  // namespace tinylm::testing
