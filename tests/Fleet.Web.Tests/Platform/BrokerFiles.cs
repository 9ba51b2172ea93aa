using Fleet.TestSupport;

namespace Fleet.Web.Tests.Platform;

/// <summary>
/// A Mosquitto started on password and ACL files in a test's directory, the way the host's broker sync keeps them:
/// the fixture writes the service users the broker needs before the host runs, and the host rewrites the files later.
/// </summary>
internal static class BrokerFiles
{
    public static string PasswordFile(string directory) => Path.Combine(directory, "passwd");

    public static string AclFile(string directory) => Path.Combine(directory, "acl");

    public static string PidFile(string directory) => Path.Combine(directory, "mosquitto.pid");

    /// <summary>Writes <paramref name="passwords"/> and <paramref name="acl"/> into <paramref name="directory"/> and starts the broker on them.</summary>
    public static async Task<MosquittoServer> StartBrokerAsync(string directory, string passwords, string acl, CancellationToken ct)
    {
        await File.WriteAllTextAsync(PasswordFile(directory), passwords, ct);
        await File.WriteAllTextAsync(AclFile(directory), acl, ct);
        if (Environment.IsPrivilegedProcess)
        {
            // Mosquitto drops to its own user, which must read the files and write its pid file here.
            var chown = await MosquittoProcessRunner.RunAsync("chown", ["-R", "mosquitto:mosquitto", directory], TimeSpan.FromSeconds(10), ct);
            Assert.True(chown.ExitCode == 0, chown.StandardError);
        }

        return await MosquittoServer.StartAsync(
            new MosquittoServerOptions { ExternalPasswordFile = PasswordFile(directory), ExternalAclFile = AclFile(directory), ExtraConfig = [$"pid_file {PidFile(directory)}"] },
            ct);
    }
}
