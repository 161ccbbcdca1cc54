library(survival); library(jsonlite)
out <- list(r_version = R.version.string, survival_version = as.character(packageVersion("survival")))
rmean_se <- function(fit, tau, nstate) {
  # IJ standard error of the area under each pstate curve from 0 to tau, from R's own influence
  tt <- c(0, fit$time)            # influence.pstate rows: start time then fit$time
  keep <- tt <= tau
  grid <- c(tt[keep], tau)
  width <- diff(grid)
  inf <- fit$influence.pstate[, keep, , drop = FALSE]
  sapply(seq_len(nstate), function(s) sqrt(sum((inf[, , s] %*% width)^2)))
}
# 1. mgus2, the "compete" vignette: progression (pcm) vs death without progression
etime <- with(mgus2, ifelse(pstat == 0, futime, ptime))
event <- with(mgus2, ifelse(pstat == 0, 2 * death, 1))
fit <- survfit(Surv(etime, factor(event, 0:2, c("censor", "pcm", "death"))) ~ 1, influence = TRUE)
times <- c(12, 60, 120, 240, 360)
s <- summary(fit, times = times)
tab <- summary(fit, rmean = 240)$table[1:3, ]
out$mgus2 <- list(
  r_call = paste("etime <- with(mgus2, ifelse(pstat == 0, futime, ptime));",
    "event <- with(mgus2, ifelse(pstat == 0, 2*death, 1));",
    "fit <- survfit(Surv(etime, factor(event, 0:2, c('censor','pcm','death'))) ~ 1, influence=TRUE);",
    "s <- summary(fit, times=c(12,60,120,240,360)); s$pstate, s$std.err, s$lower, s$upper (conf.type 'log');",
    "summary(fit, rmean=240)$table[, 'rmean']; rmean_se = sqrt(colSums((influence.pstate[, t<=240, s] %*% widths)^2))"),
  etime = etime, event = event, times = times,
  states = fit$states, pstate = s$pstate, std_err = s$std.err, lower = s$lower, upper = s$upper,
  n_risk = s$n.risk[, 1], tau = 240, rmean = unname(tab[, "rmean"]), rmean_se = unname(tab[, "se(rmean)"]), rmean_se_from_influence = rmean_se(fit, 240, 3),
  all_time = fit$time, all_pstate = fit$pstate, all_std_err = fit$std.err)
# 2. a small data set with ties and delayed entry
entry <- c(0,0,0,2,0,1,0,3,0,0,2,0,0,1,0, 4, 0.5, 0, 6, 2)
time  <- c(2,3,3,5,5,5,6,7,8,8,9,10,10,12,12, 12, 3, 1, 10, 8)
state <- c(1,2,0,1,1,2,0,1,2,1,0,1,2,0,1, 2, 1, 0, 1, 2)
id <- seq_along(time)
fe <- survfit(Surv(entry, time, factor(state)) ~ 1, id = id, influence = TRUE)
times2 <- c(1, 3, 5, 7.5, 10, 12)
s <- summary(fe, times = times2)
se <- summary(fe, times = c(11, 12, 15), extend = TRUE)
f0 <- survfit(Surv(time, factor(state)) ~ 1, influence = TRUE)
s0 <- summary(f0, times = times2)
out$small <- list(
  r_call = paste("fe <- survfit(Surv(entry, time, factor(state)) ~ 1, id=seq_along(time), influence=TRUE);",
    "summary(fe, times=c(1,3,5,7.5,10,12)); summary(fe, rmean=10)$table; same without entry: survfit(Surv(time, factor(state)) ~ 1);",
    "extend: summary(fe, times=c(11,12,15), extend=TRUE)"),
  entry = entry, time = time, state = state, times = times2,
  pstate = s$pstate, std_err = s$std.err, lower = s$lower, upper = s$upper, n_risk = s$n.risk[, 1],
  tau = 10, rmean = unname(summary(fe, rmean = 10)$table[, "rmean"]), rmean_se = unname(summary(fe, rmean = 10)$table[, "se(rmean)"]), rmean_se_from_influence = rmean_se(fe, 10, 3),
  all_time = fe$time, all_pstate = fe$pstate, all_std_err = fe$std.err, all_n_risk = fe$n.risk[, 1],
  extend_times = c(11, 12, 15), extend_pstate = se$pstate, extend_std_err = se$std.err,
  no_entry = list(pstate = s0$pstate, std_err = s0$std.err, lower = s0$lower, upper = s0$upper,
    rmean = unname(summary(f0, rmean = 10)$table[, "rmean"]), rmean_se = unname(summary(f0, rmean = 10)$table[, "se(rmean)"]), rmean_se_from_influence = rmean_se(f0, 10, 3)))
# 3. Kaplan-Meier with delayed entry: the Stanford heart transplant data in counting-process form
km <- survfit(Surv(start, stop, event) ~ 1, data = heart)
kl <- survfit(Surv(start, stop, event) ~ 1, data = heart, conf.type = "log-log")
tb <- summary(km)$table
tl <- summary(kl)$table
out$heart_km <- list(
  r_call = "km <- survfit(Surv(start, stop, event) ~ 1, data=heart); kl <- update(km, conf.type='log-log'); km$time, n.risk, n.event, surv, std.err, lower, upper; summary(km)$table median, 0.95LCL, 0.95UCL",
  start = heart$start, stop = heart$stop, event = heart$event, surgery = heart$surgery,
  time = km$time, n_risk = km$n.risk, n_event = km$n.event, n_enter = km$n.enter, surv = km$surv,
  std_err = km$std.err, lower = km$lower, upper = km$upper, lower_loglog = kl$lower, upper_loglog = kl$upper,
  median = unname(tb["median"]), median_lower = unname(tb["0.95LCL"]), median_upper = unname(tb["0.95UCL"]),
  median_loglog_lower = unname(tl["0.95LCL"]), median_loglog_upper = unname(tl["0.95UCL"]))
# 4. log-rank with delayed entry: the score test of the exact-ties Cox model
cx <- coxph(Surv(start, stop, event) ~ surgery, data = heart, ties = "exact")
g3 <- with(heart, ifelse(age < -5, 0, ifelse(age < 5, 1, 2)))
cx3 <- coxph(Surv(start, stop, event) ~ factor(g3), data = heart, ties = "exact")
sd0 <- survdiff(Surv(stop, event) ~ surgery, data = heart)
cx0 <- coxph(Surv(stop, event) ~ surgery, data = heart, ties = "exact")
out$heart_logrank <- list(
  r_call = "coxph(Surv(start, stop, event) ~ surgery, data=heart, ties='exact')$score; k=3: g3 <- ifelse(age < -5, 0, ifelse(age < 5, 1, 2)), coxph(... ~ factor(g3), ties='exact')$score; check without entry: survdiff(Surv(stop, event) ~ surgery)$chisq equals coxph(Surv(stop, event) ~ surgery, ties='exact')$score",
  score_surgery = unname(cx$score), groups3 = g3, score_groups3 = unname(cx3$score),
  no_entry_survdiff = sd0$chisq, no_entry_score = unname(cx0$score))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"), "/work/main/tests/reference/competing_r.json")
cat(sd0$chisq, cx0$score, cx$score, cx3$score, "\n")
print(summary(fit, rmean=240)$table)
