// run_command.h — runs a command as a user types it in a shell, for the tests
// of the apps: with a time limit (a hang fails the test instead of blocking
// the suite), its output (stdout and stderr interleaved) and exit code
// captured; or started in the background with its output in a log file.
//   RunResult r = run_command(app_path("vit_train") + " --epochs 1 ...");
//   REQUIRE(r.exit_code == 0);
// The command runs under `sh -c` exactly as written (quotes, `;`, `&&` and
// redirections mean what they mean in sh), with stdin from /dev/null.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "core/util/strings.h"

namespace attnlab::testing {

struct RunResult {
    int exit_code;       // -1: killed by a signal (an abort, a crash, or the time limit)
    std::string output;  // stdout and stderr
};

// The default time limit: far above any app test's run, even under the sanitizers.
inline constexpr int kCommandTimeoutSeconds = 1800;

// Runs `command` with sh; after `timeout_seconds` it (and all it started) is killed.
inline RunResult run_command(const std::string& command, int timeout_seconds = kCommandTimeoutSeconds) {
    const std::string cmd = "timeout -s KILL " + std::to_string(timeout_seconds) + " sh -c " + shell_quote(command) +
                            " < /dev/null 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int status = pclose(p);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 137 || code == 134 || code == 139) code = -1;  // the shell reports KILL/ABRT/SEGV as 128 + signal
    return {code, out};
}

// The path of an app of this build tree: build/apps/<name>.
inline std::string app_path(const std::string& name) { return std::string(ATTNLAB_BINARY_DIR) + "/apps/" + name; }

// Starts `command` in the background with its output (stdout and stderr) in
// `log` and returns its pid: `exec` makes the command the child itself, so
// signals sent to the pid reach it. The caller waits for it (waitpid).
inline pid_t start_command(const std::string& command, const std::string& log) {
    const std::string cmd = "exec " + command + " > " + log + " 2>&1";
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    return pid;
}

}  // namespace attnlab::testing
