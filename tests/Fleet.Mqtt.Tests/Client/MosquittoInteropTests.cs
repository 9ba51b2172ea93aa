using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.TestSupport;
using static Fleet.Mqtt.Tests.Client.MqttTestHelpers;

namespace Fleet.Mqtt.Tests.Client;

/// <summary>Our client against the real Mosquitto (one broker for the assembly) and its own command-line tools.</summary>
public sealed class MosquittoInteropTests(MosquittoFixture fixture)
{
    private readonly MosquittoServer _server = fixture.Server;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory(Timeout = 30_000)]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Our_publish_is_received_by_mosquitto_sub(MqttProtocolVersion version)
    {
        var topic = $"it/{Unique("pub")}/data";
        await using var sub = MosquittoSubProcess.Start(_server, topic, count: 3, timeoutSeconds: 20);
        await sub.WaitUntilSubscribedAsync(Token);
        await using var client = await ConnectAsync(Options(_server, Unique("c"), version), Token);

        for (var i = 0; i < 3; i++)
        {
            var result = await client.PublishAsync(topic, Utf8($"hello-{i}"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token);
            Assert.True(result.IsSuccess, result.ReasonName);
        }

        Assert.Equal(0, await sub.WaitForExitAsync(Token));
        Assert.Equal(["hello-0", "hello-1", "hello-2"], sub.Messages.Select(m => m.Payload));
        Assert.All(sub.Messages, m => Assert.Equal(topic, m.Topic));
    }

    [Theory(Timeout = 30_000)]
    [InlineData(MqttProtocolVersion.V311, "mqttv311")]
    [InlineData(MqttProtocolVersion.V500, "mqttv5")]
    public async Task Mosquitto_pub_is_received_by_our_subscriber(MqttProtocolVersion version, string pubProtocol)
    {
        var topic = $"it/{Unique("sub")}/data";
        await using var client = await ConnectAsync(Options(_server, Unique("c"), version), Token);
        var granted = await client.SubscribeAsync(topic, MqttQualityOfService.AtLeastOnce, Token);
        Assert.Equal([(byte)1], granted.ReasonCodes);

        await _server.PublishWithMosquittoPubAsync(["-V", pubProtocol, "-q", "1", "-t", topic, "-m", "from-mosquitto_pub"], Token);

        var received = Assert.Single(await ReceiveAsync(client, 1, TimeSpan.FromSeconds(10), Token));
        Assert.Equal(topic, received.Topic);
        Assert.Equal("from-mosquitto_pub", received.Payload);
        Assert.Equal(MqttQualityOfService.AtLeastOnce, received.QoS);
    }

    [Theory(Timeout = 30_000)]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Persistent_session_receives_qos1_messages_published_while_offline(MqttProtocolVersion version)
    {
        var topic = $"it/{Unique("offline")}/data";
        var options = Options(_server, Unique("persist"), version) with { CleanStart = false, SessionExpiryInterval = 300 };
        await using (var first = await ConnectAsync(options, Token))
        {
            await first.SubscribeAsync(topic, MqttQualityOfService.AtLeastOnce, Token);
            await first.DisconnectAsync(Token);
        }

        await using (var publisher = await ConnectAsync(Options(_server, Unique("p"), version), Token))
        {
            for (var i = 0; i < 5; i++)
            {
                Assert.True((await publisher.PublishAsync(topic, Utf8($"offline-{i}"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token)).IsSuccess);
            }
        }

        await using var second = new MqttClient(options);
        var connect = await second.ConnectAsync(Token);
        Assert.True(connect.SessionPresent);

        var received = await ReceiveAsync(second, 5, TimeSpan.FromSeconds(10), Token);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"offline-{i}"), received.Select(m => m.Payload));
    }

    [Theory(Timeout = 30_000)]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Will_is_published_when_the_connection_drops_without_disconnect(MqttProtocolVersion version)
    {
        var willTopic = $"fleet/v1/{Unique("term")}/status";
        await using var watcher = await ConnectAsync(Options(_server, Unique("w")), Token);
        await watcher.SubscribeAsync(willTopic, MqttQualityOfService.AtLeastOnce, Token);

        var options = Options(_server, Unique("will"), version) with
        {
            AutoReconnect = false,
            Will = new MqttWill(willTopic, Utf8("offline")) { QoS = MqttQualityOfService.AtLeastOnce },
        };
        await using var terminal = await ConnectAsync(options, Token);
        terminal.AbortConnection();

        var will = Assert.Single(await ReceiveAsync(watcher, 1, TimeSpan.FromSeconds(10), Token));
        Assert.Equal(willTopic, will.Topic);
        Assert.Equal("offline", will.Payload);
    }

    [Fact(Timeout = 30_000)]
    public async Task Will_is_not_published_after_a_clean_disconnect()
    {
        var willTopic = $"fleet/v1/{Unique("term")}/status";
        await using var watcher = await ConnectAsync(Options(_server, Unique("w")), Token);
        await watcher.SubscribeAsync(willTopic, MqttQualityOfService.AtLeastOnce, Token);

        var options = Options(_server, Unique("will")) with { Will = new MqttWill(willTopic, Utf8("offline")) };
        await using (var terminal = await ConnectAsync(options, Token))
        {
            await terminal.DisconnectAsync(Token);
        }

        Assert.Empty(await DrainAsync(watcher, TimeSpan.FromSeconds(1), Token));
    }

    [Fact(Timeout = 30_000)]
    public async Task Keep_alive_holds_an_idle_connection_open()
    {
        var topic = $"it/{Unique("idle")}/data";
        var options = Options(_server, Unique("idle")) with { KeepAlive = TimeSpan.FromSeconds(1) };
        await using var client = await ConnectAsync(options, Token);
        await client.SubscribeAsync(topic, MqttQualityOfService.AtLeastOnce, Token);

        // Mosquitto drops a client that is silent for 1.5 × keep-alive; only our PINGREQs keep this one alive.
        await Task.Delay(TimeSpan.FromSeconds(5), Token);

        var result = await client.PublishAsync(topic, Utf8("still-here"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token);
        Assert.True(result.IsSuccess);
        Assert.Equal("still-here", Assert.Single(await ReceiveAsync(client, 1, TimeSpan.FromSeconds(5), Token)).Payload);
        Assert.True(client.IsConnected);
        Assert.Equal(1, client.ConnectionGeneration);
    }

    [Fact(Timeout = 60_000)]
    public async Task Shared_subscription_splits_messages_between_two_clients()
    {
        const int Count = 200;
        var topic = $"it/{Unique("shared")}/data";
        var filter = $"$share/{Unique("g")}/{topic}";
        await using var first = await ConnectAsync(Options(_server, Unique("s1")), Token);
        await using var second = await ConnectAsync(Options(_server, Unique("s2")), Token);
        await first.SubscribeAsync(filter, MqttQualityOfService.AtLeastOnce, Token);
        await second.SubscribeAsync(filter, MqttQualityOfService.AtLeastOnce, Token);

        await using var publisher = await ConnectAsync(Options(_server, Unique("p")), Token);
        var publishes = new List<Task<MqttPublishResult>>();
        for (var i = 0; i < Count; i++)
        {
            publishes.Add(publisher.PublishAsync(topic, Utf8($"m{i}"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token).AsTask());
        }

        Assert.All(await Task.WhenAll(publishes), r => Assert.True(r.IsSuccess));

        var firstMessages = new List<ReceivedMessage>();
        var secondMessages = new List<ReceivedMessage>();
        var total = new int[1];
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var collectors = Task.WhenAll(CollectAsync(first, firstMessages), CollectAsync(second, secondMessages));
        await EventuallyAsync(() => Volatile.Read(ref total[0]) >= Count, TimeSpan.FromSeconds(20), $"{Count} messages over both clients", Token);

        // A little longer, so a duplicate would show up.
        await Task.Delay(300, Token);
        await stop.CancelAsync();
        await collectors;

        Assert.NotEmpty(firstMessages);
        Assert.NotEmpty(secondMessages);
        var all = firstMessages.Concat(secondMessages).Select(m => m.Payload).ToList();
        Assert.Equal(Count, all.Count);
        Assert.Equal(Enumerable.Range(0, Count).Select(i => $"m{i}").Order(), all.Order());
        TestContext.Current.TestOutputHelper?.WriteLine($"split {firstMessages.Count} / {secondMessages.Count}");

        async Task CollectAsync(MqttClient client, List<ReceivedMessage> into)
        {
            try
            {
                while (true)
                {
                    using var batch = await client.ReadBatchAsync(stop.Token);
                    into.AddRange(Copy(batch));
                    Interlocked.Add(ref total[0], batch.Count);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }
    }

    [Theory(Timeout = 30_000)]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Bad_credentials_give_a_clear_connect_failure(MqttProtocolVersion version)
    {
        var options = Options(_server, Unique("bad"), version) with { Password = "wrong-password" };
        await using var client = new MqttClient(options);

        var error = await Assert.ThrowsAsync<MqttConnectException>(() => client.ConnectAsync(Token));

        TestContext.Current.TestOutputHelper?.WriteLine(error.Message);
        Assert.Contains("refused", error.Message, StringComparison.Ordinal);
        if (version == MqttProtocolVersion.V500)
        {
            Assert.Contains(error.ReasonCode, new byte[] { 0x86, 0x87 });
            Assert.Contains($"0x{error.ReasonCode:X2}", error.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains(error.ReasonCode, new byte[] { 4, 5 });
            Assert.Contains($"return code {error.ReasonCode}", error.Message, StringComparison.Ordinal);
        }

        Assert.Contains(error.ReasonName, error.Message, StringComparison.Ordinal);
        Assert.False(client.IsConnected);
    }
}
