// metrics.csv: the JSON lines of a run as CSV with fixed columns, every digit kept.
#include "tinylm/training/metrics_csv.h"

#include <gtest/gtest.h>

namespace tinylm::testing {
namespace {

TEST(MetricsCsv, OneRowPerLineInFixedColumnsWithEveryDigit) {
  const std::string jsonl =
      "{\"stage\":\"pretrain\",\"step\":10,\"tokens\":640,\"loss\":5.2271270007577186,\"lr\":0.00092441873857751489,"
      "\"grad_norm\":1.3332033145666955,\"tokens_per_sec\":12345.5}\n"
      "{\"stage\":\"pretrain\",\"step\":12,\"tokens\":768,\"val_loss\":5.0623759498650376,\"val_bpb\":7.6512487102708864,"
      "\"val_accuracy\":0.090909090909090912,\"embedding_spread\":null}\n"
      "{\"stage\":\"sft, 2\",\"step\":13,\"skipped\":true}\n"
      "{\"stage\":\"sft, 2\",\"step\":14,\"diverged\":true}\n"
      "{\"stage\":\"sft\",\"step\":15,\"loss\":1.";  // cut short by a kill
  EXPECT_EQ(MetricsCsv(jsonl),
            "stage,step,tokens,loss,reconstruction_loss,lr,grad_norm,tokens_per_sec,val_loss,val_bpb,val_accuracy,"
            "embedding_spread,skipped,diverged\n"
            "pretrain,10,640,5.2271270007577186,,0.00092441873857751489,1.3332033145666955,12345.5,,,,,,\n"
            "pretrain,12,768,,,,,,5.0623759498650376,7.6512487102708864,0.090909090909090912,,,\n"
            "\"sft, 2\",13,,,,,,,,,,,true,\n"
            "\"sft, 2\",14,,,,,,,,,,,,true\n");
  EXPECT_EQ(MetricsCsv("{\"stage\":\"a\",\"step\":1}\n", {"arm", "seed"}, {"baseline", "3"}, false),
            "baseline,3,a,1,,,,,,,,,,,,\n");
}

TEST(MetricsCsv, CellsWithCommasQuotesOrLineBreaksAreQuoted) {
  EXPECT_EQ(CsvCell("plain"), "plain");
  EXPECT_EQ(CsvCell("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvCell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvCell("two\nlines"), "\"two\nlines\"");
}

}  // namespace
}  // namespace tinylm::testing
