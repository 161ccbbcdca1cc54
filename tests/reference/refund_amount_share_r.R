# Reference for tests/test_questions_new.py::test_refund_amount_share_interval_against_R_boot_bca
# Run: Rscript tests/reference/refund_amount_share_r.R > tests/reference/refund_amount_share_r.json
# The shares of the amount obtained of 40 decided requests (14 full, 10 refused, 16 partial:
# obtained / requested rounded to 0.001, as analysis.kpis counts them), and the BCa 95%
# interval of their mean by R's boot package.
library(boot); library(jsonlite)
requested <- c(120, 60, 50, 100, 80, 90, 48, 120, 25, 150, 99, 100, 72, 400, 10, 200)
obtained <- c(40, 30, 10, 75, 20, 45, 12, 90, 5, 60, 33, 70, 18, 100, 9, 50)
shares <- c(rep(1, 14), rep(0, 10), round(obtained / requested, 3))
set.seed(20261201)
fit <- boot(shares, function(x, i) mean(x[i]), R = 200000)
ci <- boot.ci(fit, conf = 0.95, type = "bca")
cat(toJSON(list(
  r_version = R.version.string,
  boot_version = as.character(packageVersion("boot")),
  r_call = paste("fit <- boot(shares, function(x, i) mean(x[i]), R = 200000);",
                 "boot.ci(fit, conf = 0.95, type = 'bca')$bca[4:5]"),
  requested = requested, obtained = obtained, full = 14, refused = 10,
  mean = mean(shares), low = ci$bca[4], high = ci$bca[5]
), auto_unbox = TRUE, digits = NA, pretty = TRUE))
