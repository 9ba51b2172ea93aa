using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.TestSupport;
using static Fleet.Mqtt.Tests.Client.MqttTestHelpers;

namespace Fleet.Mqtt.Tests.Client;

/// <summary>A publish the broker's ACL denies, as the terminal protocol's per-terminal ACL would.</summary>
public sealed class MqttAclTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory(Timeout = 30_000)]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Publish_denied_by_the_acl_is_reported_at_v5_and_silently_dropped_at_v311(MqttProtocolVersion version)
    {
        await using var server = await MosquittoServer.StartAsync(new MosquittoServerOptions { AclLines = ["pattern write fleet/v1/%u/telemetry"] }, Token);
        await server.AddUserAsync("term-a", "secret-a", cancellationToken: Token);

        await using var watcher = await ConnectAsync(Options(server, "watcher"), Token);
        await watcher.SubscribeAsync("fleet/v1/+/telemetry", MqttQualityOfService.AtLeastOnce, Token);

        var terminalOptions = Options(server, "term-a", version) with { Username = "term-a", Password = "secret-a" };
        await using var terminal = await ConnectAsync(terminalOptions, Token);

        var denied = await terminal.PublishAsync("fleet/v1/term-b/telemetry", Utf8("forged"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token);
        var allowed = await terminal.PublishAsync("fleet/v1/term-a/telemetry", Utf8("own"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token);

        if (version == MqttProtocolVersion.V500)
        {
            Assert.Equal(MqttReasonCodes.NotAuthorized, denied.ReasonCode);
            Assert.False(denied.IsSuccess);
            Assert.Equal("Not authorized", denied.ReasonName);
        }
        else
        {
            // 3.1.1 has no way to say no: the broker acknowledges and drops.
            Assert.True(denied.IsSuccess);
        }

        Assert.True(allowed.IsSuccess);

        // The allowed message was published second, so once it is in, the forged one would have been too.
        var received = await ReceiveAsync(watcher, 1, TimeSpan.FromSeconds(10), Token);
        received.AddRange(await DrainAsync(watcher, TimeSpan.FromMilliseconds(300), Token));
        var only = Assert.Single(received);
        Assert.Equal("fleet/v1/term-a/telemetry", only.Topic);
        Assert.Equal("own", only.Payload);
        Assert.True(terminal.IsConnected);
    }
}
