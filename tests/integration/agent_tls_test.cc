// gotrace agent --push over TLS, as Pyroscope is reached where it is not on
// the same host: the real server behind a real TLS terminator (socat, as an
// ingress would be), which asks for a client certificate. Every key and
// certificate is made by openssl in the test.
//
// Needs root (or CAP_SYS_ADMIN). CI runs as root; a developer run without
// it skips with the reason printed.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/agent_run.h"
#include "tests/support/background_gotrace.h"
#include "tests/support/child_process.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/http_client.h"
#include "tests/support/pyroscope_server.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;
using std::chrono::seconds;

// A CA, a server certificate for 127.0.0.1 and a client certificate, all
// signed by the CA, in `dir`.
void make_certificates(const std::string& dir) {
  auto openssl = [](std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), "openssl");
    CommandResult result = run_command(args, input);
    ASSERT_EQ(result.exit_code, 0) << result.err;
  };
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/ca.key", "-out", dir + "/ca.pem",
           "-days", "2", "-subj", "/CN=gotrace test CA"});
  for (std::string name : {"server", "client"}) {
    openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/" + name + ".key", "-out",
             dir + "/" + name + ".csr", "-subj", "/CN=" + std::string(name == "server" ? "127.0.0.1" : "agent")});
    openssl({"x509", "-req", "-in", dir + "/" + name + ".csr", "-CA", dir + "/ca.pem", "-CAkey", dir + "/ca.key",
             "-CAcreateserial", "-out", dir + "/" + name + ".pem", "-days", "2", "-extfile", "/dev/stdin"},
            name == "server" ? "subjectAltName=IP:127.0.0.1\n" : "extendedKeyUsage=clientAuth\n");
  }
}

TEST(AgentTls, PushesThroughATlsTerminatorThatWantsAClientCertificate) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchDirectory scratch("agent-tls");
  std::string certs = scratch.path();
  ASSERT_NO_FATAL_FAILURE(make_certificates(certs));
  PyroscopeServer server;
  ASSERT_TRUE(server.start(scratch.path() + "/pyroscope")) << server.log_tail();
  auto port = free_port();
  ASSERT_TRUE(port) << port.error().message;
  std::string backend = server.url().substr(std::string("http://").size());
  ChildProcess terminator({"socat",
                           fmt::format("openssl-listen:{},bind=127.0.0.1,reuseaddr,fork,cert={}/server.pem,key={}/"
                                       "server.key,cafile={}/ca.pem,verify=1",
                                       *port, certs, certs, certs),
                           "tcp:" + backend});
  std::string url = fmt::format("https://127.0.0.1:{}", *port);
  AllocsService orders(scratch.path(), "orders");
  int64_t from = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count() - 60000;

  // Without the client certificate the terminator refuses: said once, and retried.
  {
    BackgroundGotrace agent({"agent", "--interval", "1s", "--push", url, "--tls-ca", certs + "/ca.pem", "--dir",
                             scratch.path() + "/refused", "-d", "3s"});
    EXPECT_EQ(agent.wait(), 0) << agent.err();
    EXPECT_NE(agent.err().find("failing:"), std::string::npos) << agent.err();
    EXPECT_NE(agent.err().find(" 0 pushed"), std::string::npos) << agent.err();
  }
  BackgroundGotrace agent({"agent", "--interval", "1s", "--push", url, "--tls-ca", certs + "/ca.pem", "--tls-cert",
                           certs + "/client.pem", "--tls-key", certs + "/client.key", "--dir",
                           scratch.path() + "/profiles", "-d", "4s"});
  EXPECT_EQ(agent.wait(), 0) << agent.err();
  EXPECT_EQ(agent.err().find("failing"), std::string::npos) << agent.err();
  int64_t until = from + 120000 + 60000;
  auto series = server.series({"{service_name=\"orders\"}"}, from, until);
  ASSERT_TRUE(series) << series.error().message;
  EXPECT_FALSE(series->empty()) << "nothing of orders came through TLS\n" << agent.err();
  EXPECT_EQ(orders.end(), 0);
}

}  // namespace
}  // namespace gotrace
