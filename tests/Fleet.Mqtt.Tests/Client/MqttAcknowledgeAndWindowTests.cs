using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.TestSupport;
using static Fleet.Mqtt.Tests.Client.MqttTestHelpers;

namespace Fleet.Mqtt.Tests.Client;

/// <summary>Manual acknowledgement (redelivery of what was not acked) and the outgoing in-flight window.</summary>
public sealed class MqttAcknowledgeAndWindowTests(MosquittoFixture fixture)
{
    private readonly MosquittoServer _server = fixture.Server;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory(Timeout = 60_000)]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Manual_ack_unacknowledged_messages_are_redelivered_after_reconnect_and_acknowledged_ones_are_not(MqttProtocolVersion version)
    {
        var topic = $"it/{Unique("ack")}/data";
        var options = Options(_server, Unique("consumer"), version) with
        {
            ManualAcknowledge = true,
            CleanStart = false,
            SessionExpiryInterval = 300,
        };
        await using var consumer = await ConnectAsync(options, Token);
        await consumer.SubscribeAsync(topic, MqttQualityOfService.AtLeastOnce, Token);
        await using var publisher = await ConnectAsync(Options(_server, Unique("p"), version), Token);

        for (var i = 0; i < 5; i++)
        {
            await publisher.PublishAsync(topic, Utf8($"acked-{i}"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token);
        }

        var acked = await ReceiveAsync(consumer, 5, TimeSpan.FromSeconds(10), Token, acknowledge: true);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"acked-{i}"), acked.Select(m => m.Payload));

        for (var i = 0; i < 5; i++)
        {
            await publisher.PublishAsync(topic, Utf8($"unacked-{i}"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token);
        }

        // Read but keep the batches unacknowledged across the reconnect.
        var held = new List<MqttReceivedBatch>();
        var heldCount = 0;
        while (heldCount < 5)
        {
            var batch = await consumer.ReadBatchAsync(Token);
            held.Add(batch);
            heldCount += batch.Count;
        }

        consumer.AbortConnection();
        await EventuallyAsync(() => consumer.IsConnected && consumer.ConnectionGeneration == 2, TimeSpan.FromSeconds(10), "the consumer to reconnect", Token);
        Assert.True(consumer.LastConnAck!.SessionPresent);

        // Acks for the old connection are dropped; the broker redelivers those messages regardless.
        foreach (var batch in held)
        {
            Assert.Equal(1, batch.ConnectionGeneration);
            await batch.AcknowledgeAsync(Token);
            batch.Dispose();
        }

        var redelivered = await ReceiveAsync(consumer, 5, TimeSpan.FromSeconds(10), Token, acknowledge: true);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"unacked-{i}"), redelivered.Select(m => m.Payload));
        Assert.All(redelivered, m => Assert.True(m.Dup));
        Assert.Empty(await DrainAsync(consumer, TimeSpan.FromMilliseconds(500), Token));

        // Everything is acknowledged now: another reconnect brings nothing back.
        consumer.AbortConnection();
        await EventuallyAsync(() => consumer.IsConnected && consumer.ConnectionGeneration == 3, TimeSpan.FromSeconds(10), "the consumer to reconnect again", Token);
        Assert.Empty(await DrainAsync(consumer, TimeSpan.FromSeconds(1), Token));
    }

    [Fact(Timeout = 60_000)]
    public async Task Inflight_window_follows_the_brokers_receive_maximum()
    {
        await using var server = await MosquittoServer.StartAsync(new MosquittoServerOptions { MaxInflightMessages = 5 }, Token);
        await using var client = await ConnectAsync(Options(server, Unique("win")), Token);
        Assert.Equal((ushort)5, client.LastConnAck!.ReceiveMaximum);
        Assert.Equal(5, client.InflightLimit);

        await PublishManyAndCheckWindowAsync(client, 5);
    }

    [Fact(Timeout = 60_000)]
    public async Task Inflight_window_follows_the_configured_limit()
    {
        await using var client = await ConnectAsync(Options(_server, Unique("win")) with { MaximumOutgoingInflight = 3 }, Token);
        Assert.Equal(3, client.InflightLimit);

        await PublishManyAndCheckWindowAsync(client, 3);
    }

    private static async Task PublishManyAndCheckWindowAsync(MqttClient client, int limit)
    {
        var topic = $"it/{Unique("window")}/data";
        var maxSeen = 0;
        var publishes = new List<Task<MqttPublishResult>>();
        for (var i = 0; i < 300; i++)
        {
            publishes.Add(client.PublishAsync(topic, Utf8($"w{i}"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token).AsTask());
            maxSeen = Math.Max(maxSeen, client.InflightCount);
        }

        Assert.All(await Task.WhenAll(publishes), r => Assert.True(r.IsSuccess));
        Assert.True(maxSeen <= limit, $"saw {maxSeen} in flight");
        Assert.Equal(limit, client.PeakInflightCount);
        Assert.Equal(0, client.InflightCount);
    }
}
