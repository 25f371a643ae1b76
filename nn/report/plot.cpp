// plot.cpp — see plot.h.
#include "nn/report/plot.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/util/strings.h"

namespace attnlab::nn::report {

namespace fs = std::filesystem;

void write_gnuplot_script(const std::string& script_path, const std::string& script) {
    std::ofstream(script_path) << script;
}

bool run_gnuplot(const std::string& script_path) {
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
        std::printf("gnuplot not available: plots skipped (script in %s)\n", script_path.c_str());
        return false;
    }
    const std::string log = script_path + ".log";
    if (std::system(("gnuplot " + shell_quote(script_path) + " 2>" + shell_quote(log)).c_str()) == 0) {
        std::error_code ec;
        fs::remove(log, ec);
        return true;
    }
    std::printf("gnuplot failed on %s: plots may be missing or empty (its messages are in %s)\n",
                script_path.c_str(), log.c_str());
    return false;
}

std::string gnuplot_quote(const std::string& text) { return enclose(text, '\'', "''"); }

// One plot: eval accuracy (column 4) against column `x_column` of the CSV, a line per variant;
// colour, dash and point differ per variant.
static void study_plot(std::ostream& f, const fs::path& png, const std::string& xlabel, bool integer_x, int x_column,
                       const std::string& csv, const std::vector<std::string>& variants) {
    f << "set output " << gnuplot_quote(png.string()) << "\n"
      << "set xlabel " << gnuplot_quote(xlabel) << "\n"
      << (integer_x ? "set xtics 1\n" : "set xtics autofreq\n") << "plot ";
    for (size_t i = 0; i < variants.size(); ++i)
        f << (i ? ", " : "") << gnuplot_quote(csv) << " using (strcol(1) eq " << gnuplot_quote(variants[i]) << " ? $"
          << x_column << " : 1/0):4 with linespoints lc " << i + 1 << " dt " << i / 8 + 1 << " pt " << i + 1
          << " title " << gnuplot_quote(variants[i]);
    f << "\n";
}

void plot_study_curves(const std::string& out_dir, const std::string& epochs_csv,
                       const std::vector<std::string>& variants, const std::string& eval_name) {
    const fs::path out(out_dir);
    std::ostringstream f;
    f << "set terminal pngcairo size 1000,620 noenhanced\nset datafile separator ','\nset key outside right\nset grid\n"
      << "set ylabel '" << eval_name << " accuracy'\n";
    study_plot(f, out / "study_accuracy.png", "epoch", true, 2, epochs_csv, variants);
    study_plot(f, out / "study_time.png", "training time (s)", false, 3, epochs_csv, variants);
    const std::string gp = (out / "study.gp").string();
    write_gnuplot_script(gp, f.str());
    if (!variants.empty()) run_gnuplot(gp);
}

}  // namespace attnlab::nn::report
