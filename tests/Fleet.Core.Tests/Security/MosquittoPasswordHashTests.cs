using System.Text.RegularExpressions;
using Fleet.Core.Security;

namespace Fleet.Core.Tests.Security;

public sealed partial class MosquittoPasswordHashTests
{
    private const int BrokerTimeout = 30_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void A_created_hash_has_the_mosquitto_2_pbkdf2_sha512_format()
    {
        var hash = MosquittoPasswordHash.Create("secret");

        // $7$, 101 iterations, 12-byte salt (16 base64 chars), 64-byte SHA-512 output (88 base64 chars).
        Assert.Matches(HashFormat(), hash);
    }

    [Theory]
    [InlineData("secret")]
    [InlineData("")]
    [InlineData("公务用车-终端密码")]
    [InlineData("with:colon and $dollar")]
    public void A_created_hash_verifies_its_password(string password)
    {
        var hash = MosquittoPasswordHash.Create(password);

        Assert.True(MosquittoPasswordHash.Verify(password, hash));
    }

    [Theory]
    [InlineData("Secret")]
    [InlineData("secret ")]
    [InlineData("secre")]
    [InlineData("")]
    public void A_wrong_password_does_not_verify(string wrong)
    {
        var hash = MosquittoPasswordHash.Create("secret");

        Assert.False(MosquittoPasswordHash.Verify(wrong, hash));
    }

    [Fact]
    public void The_same_password_hashes_differently_each_time_because_the_salt_is_random()
    {
        Assert.NotEqual(MosquittoPasswordHash.Create("secret"), MosquittoPasswordHash.Create("secret"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("secret")]
    [InlineData("$7$")]
    [InlineData("$7$101$")]
    [InlineData("$7$101$do4C0p/Pz7V89MAm")]
    [InlineData("$7$101$do4C0p/Pz7V89MAm$")]
    [InlineData("$7$101$$PIx6VdYD7n4eQnL9Axw2e5+gw1rc82SE94HPTbrPhc1Ue0e2Qb0RfuQ/0xWZtWvYn9JLW1H6QH/jXPRdjHUWHQ==")]
    [InlineData("$7$abc$do4C0p/Pz7V89MAm$PIx6VdYD7n4eQnL9Axw2e5+gw1rc82SE94HPTbrPhc1Ue0e2Qb0RfuQ/0xWZtWvYn9JLW1H6QH/jXPRdjHUWHQ==")]
    [InlineData("$7$0$do4C0p/Pz7V89MAm$PIx6VdYD7n4eQnL9Axw2e5+gw1rc82SE94HPTbrPhc1Ue0e2Qb0RfuQ/0xWZtWvYn9JLW1H6QH/jXPRdjHUWHQ==")]
    [InlineData("$7$-101$do4C0p/Pz7V89MAm$PIx6VdYD7n4eQnL9Axw2e5+gw1rc82SE94HPTbrPhc1Ue0e2Qb0RfuQ/0xWZtWvYn9JLW1H6QH/jXPRdjHUWHQ==")]
    [InlineData("$7$99999999999$do4C0p/Pz7V89MAm$PIx6VdYD7n4eQnL9Axw2e5+gw1rc82SE94HPTbrPhc1Ue0e2Qb0RfuQ/0xWZtWvYn9JLW1H6QH/jXPRdjHUWHQ==")]
    [InlineData("$7$101$not*base64!$PIx6VdYD7n4eQnL9Axw2e5+gw1rc82SE94HPTbrPhc1Ue0e2Qb0RfuQ/0xWZtWvYn9JLW1H6QH/jXPRdjHUWHQ==")]
    [InlineData("$7$101$do4C0p/Pz7V89MAm$PIx6VdYD7n4eQnL9Axw2e5+gw1rc82SE94HPTbrPhc1Ue0e2Qb0RfuQ/0xWZtWvYn9JLW1H6QH/jXPRdjHUWHQ==$extra")]
    [InlineData("$6$do4C0p/Pz7V89MAm$PIx6VdYD7n4eQnL9Axw2e5+gw1rc82SE94HPTbrPhc1Ue0e2Qb0RfuQ/0xWZtWvYn9JLW1H6QH/jXPRdjHUWHQ==")]
    [InlineData("user:$7$101$do4C0p/Pz7V89MAm$PIx6VdYD7n4eQnL9Axw2e5+gw1rc82SE94HPTbrPhc1Ue0e2Qb0RfuQ/0xWZtWvYn9JLW1H6QH/jXPRdjHUWHQ==")]
    public void A_malformed_hash_does_not_verify_and_does_not_throw(string hash)
    {
        Assert.False(MosquittoPasswordHash.Verify("pass", hash));
    }

    [Fact]
    public void A_recorded_mosquitto_passwd_hash_verifies()
    {
        // Written by `mosquitto_passwd -c -b file user pass` (Mosquitto 2.0.11, Debian 12).
        const string FromMosquittoPasswd = "$7$101$do4C0p/Pz7V89MAm$PIx6VdYD7n4eQnL9Axw2e5+gw1rc82SE94HPTbrPhc1Ue0e2Qb0RfuQ/0xWZtWvYn9JLW1H6QH/jXPRdjHUWHQ==";

        Assert.True(MosquittoPasswordHash.Verify("pass", FromMosquittoPasswd));
        Assert.False(MosquittoPasswordHash.Verify("Pass", FromMosquittoPasswd));
    }

    [Fact(Timeout = BrokerTimeout)]
    public async Task A_hash_written_by_mosquitto_passwd_verifies()
    {
        LocalMosquitto.RequireInstalled();
        var directory = LocalMosquitto.CreateTempDirectory();
        try
        {
            var file = Path.Combine(directory, "passwd");
            foreach (var password in new[] { "pass", "公务用车-终端密码" })
            {
                var (exitCode, output) = await LocalMosquitto.RunAsync(LocalMosquitto.PasswdPath, ["-c", "-b", file, "user", password], Ct);
                Assert.True(exitCode == 0, $"mosquitto_passwd failed ({exitCode}): {output}");

                var line = (await File.ReadAllTextAsync(file, Ct)).Trim();
                Assert.StartsWith("user:", line, StringComparison.Ordinal);
                var hash = line["user:".Length..];
                Assert.Matches(HashFormat(), hash);
                Assert.True(MosquittoPasswordHash.Verify(password, hash), $"{password} did not verify against {hash}");
                Assert.False(MosquittoPasswordHash.Verify(password + "x", hash));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact(Timeout = BrokerTimeout)]
    public async Task The_broker_accepts_our_hash_and_refuses_a_wrong_password()
    {
        const string Password = "T0-demo-secret";
        await using var broker = await LocalMosquitto.StartAsync(
            [$"terminal1:{MosquittoPasswordHash.Create(Password)}", $"terminal2:{MosquittoPasswordHash.Create("公务用车-终端密码")}"],
            Ct);

        var accepted = await broker.PublishAsync("terminal1", Password, Ct);
        var acceptedUtf8 = await broker.PublishAsync("terminal2", "公务用车-终端密码", Ct);
        var wrongPassword = await broker.PublishAsync("terminal1", Password + "x", Ct);
        var otherUsersPassword = await broker.PublishAsync("terminal2", Password, Ct);

        Assert.True(accepted.ExitCode == 0, $"the broker refused our hash: {accepted.Output}");
        Assert.True(acceptedUtf8.ExitCode == 0, $"the broker refused our hash of a UTF-8 password: {acceptedUtf8.Output}");
        Assert.NotEqual(0, wrongPassword.ExitCode);
        Assert.NotEqual(0, otherUsersPassword.ExitCode);
    }

    [GeneratedRegex(@"^\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$")]
    private static partial Regex HashFormat();
}
