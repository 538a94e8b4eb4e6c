// The end of `gotrace --help`: exit statuses, privileges, the live view's
// keys, and examples, as README.md gives them.
#pragma once

namespace gotrace {

inline constexpr const char* kFooter = R"(Exit status:
  0  success (for attach: also after Ctrl-C, SIGTERM, the duration, the target's exit or q;
     run exits with the traced program's status, 128+N if a signal N killed it)
  1  runtime failure (unreadable or unsupported binary, no such process,
     missing privileges, an output that cannot be written, ...)
  2  usage error

Tracing needs root, or CAP_SYS_ADMIN, and CAP_SYS_PTRACE besides to attach to
a process of another user. Diagnostics go to stderr, data to the files named
or to stdout.

Live view: on a terminal, attach shows the call sites allocating right now,
refreshed every second, until q or Ctrl-C (run shows it with --tui). Keys:
  q quit (files are written)   a b A B sort by allocs/s, bytes/s, total allocs,
  total bytes   p pause   j k or arrows move   Enter the selected site's stacks
  (Esc back)   / filter by function or file   + - refresh interval

Examples:
  sudo gotrace attach 4242                   live view until q or Ctrl-C; the top call sites at the end
  sudo gotrace attach 4242 -d 30s -o allocs.pb.gz --folded allocs.folded
                                             30 seconds; pprof and flame-graph input
  go tool pprof -top allocs.pb.gz            read the profile with Go's own tools
  sudo gotrace attach 4242 --no-tui | tee top.txt
                                             no live view: the top call sites at the end
  sudo gotrace run -o allocs.pb.gz -- ./server --port 8080
                                             trace a program from its first instruction
  sudo gotrace run --tui --program-output server.log -- ./server
                                             the same with the live view; the program's output to a file
  gotrace info ./server                      what gotrace sees in a binary
  sudo gotrace info 4242                     the same for a running process
  gotrace symbolize ./server 0x4a1b2c        address -> function, file:line (inlined frames first)
  gotrace symbolize --json --return-addresses ./server 0x4a1b31 0x4a2000
  gotrace explain allocs.pb.gz --source ~/src/server
                                             why the top call sites allocate, to the compiler's reasons
  gotrace explain --diff before.pb.gz after.pb.gz
                                             what a fix changed, site by site
)";

}  // namespace gotrace
