using Fleet.Core.Security;
using Fleet.Gateway.Broker;

namespace Fleet.Gateway.Tests.Broker;

public sealed class BrokerOptionsValidatorTests
{
    private static readonly string Hash = MosquittoPasswordHash.Create("x");

    [Fact]
    public void Complete_options_pass()
    {
        var result = new BrokerOptionsValidator().Validate(null, Valid());
        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Fact]
    public void The_simulator_is_optional_but_the_gateway_is_not()
    {
        var options = Valid();
        options.SimulatorPasswordHash = "";
        Assert.True(new BrokerOptionsValidator().Validate(null, options).Succeeded);
        Assert.DoesNotContain("fleet-simulator", BrokerConfigWriter.RenderAcl(options), StringComparison.Ordinal);

        options.GatewayPasswordHash = "";
        Assert.Contains("GatewayPasswordHash is not set", Failures(options), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("PasswordFile", "PasswordFile is not set")]
    [InlineData("Reload", "Set exactly one of Fleet:Broker:PidFile")]
    [InlineData("BothReloads", "Set exactly one of Fleet:Broker:PidFile")]
    [InlineData("PlainHash", "GatewayPasswordHash is not a Mosquitto password hash")]
    [InlineData("SameUser", "configured more than once")]
    [InlineData("BadName", "SimulatorUsername 'sim:1' may use only")]
    [InlineData("AdminWithoutHash", "AdminPasswordHash is not set")]
    [InlineData("FileMode", "FileMode '0999' is not an octal mode")]
    [InlineData("Group", "FileGroup 'no-such-group-here' is not a group")]
    [InlineData("SameFile", "are the same file")]
    public void Each_problem_is_reported_by_setting_name(string problem, string message)
    {
        var options = Valid();
        switch (problem)
        {
            case "PasswordFile": options.PasswordFile = ""; break;
            case "Reload": options.PidFile = null; break;
            case "BothReloads": options.ReloadCommand = "true"; break;
            case "PlainHash": options.GatewayPasswordHash = "secret"; break;
            case "SameUser": options.SimulatorUsername = options.GatewayUsername; break;
            case "BadName": options.SimulatorUsername = "sim:1"; break;
            case "AdminWithoutHash": options.AdminUsername = "fleet-admin"; break;
            case "FileMode": options.FileMode = "0999"; break;
            case "Group": options.FileGroup = "no-such-group-here"; break;
            case "SameFile": options.AclFile = options.PasswordFile; break;
        }

        Assert.Contains(message, Failures(options), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("$7$101$c2FsdHNhbHRzYWx0$aGFzaA==", true)]
    [InlineData("$6$c2FsdA==$aGFzaA==", true)]
    [InlineData("$7$101$c2FsdA==$aGFzaA==\nevil:$7$1$AA$AA", false)]
    [InlineData("$7$$c2FsdA==$aGFzaA==", false)]
    [InlineData("plain", false)]
    [InlineData("", false)]
    public void Password_hashes_must_be_a_single_mosquitto_hash(string hash, bool valid) =>
        Assert.Equal(valid, BrokerConfigWriter.IsValidPasswordHash(hash));

    [Fact]
    public void The_admin_user_gets_full_access_when_configured()
    {
        var options = Valid();
        options.AdminUsername = "fleet-admin";
        options.AdminPasswordHash = Hash;
        Assert.True(new BrokerOptionsValidator().Validate(null, options).Succeeded);
        Assert.EndsWith("user fleet-admin\ntopic readwrite #\ntopic read $SYS/#\n", BrokerConfigWriter.RenderAcl(options), StringComparison.Ordinal);
    }

    private static string Failures(BrokerOptions options)
    {
        var result = new BrokerOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        return result.FailureMessage;
    }

    private static BrokerOptions Valid() => new()
    {
        PasswordFile = "/var/lib/fleet/broker/passwd",
        AclFile = "/var/lib/fleet/broker/acl",
        PidFile = "/run/mosquitto.pid",
        GatewayPasswordHash = Hash,
        SimulatorPasswordHash = Hash,
        FileOwner = "",
        FileGroup = "",
    };
}
