using System.Text;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Tests.Client;

/// <summary>Client pieces that need no broker.</summary>
public sealed class MqttClientUnitTests
{
    [Fact(Timeout = 10_000)]
    public async Task Reconnect_backoff_doubles_up_to_the_maximum_and_jitter_stays_within_its_fraction()
    {
        var min = TimeSpan.FromMilliseconds(100);
        var max = TimeSpan.FromSeconds(5);
        Assert.Equal(TimeSpan.FromMilliseconds(100), ReconnectBackoff.Compute(0, min, max, 0, 0.5));
        Assert.Equal(TimeSpan.FromMilliseconds(400), ReconnectBackoff.Compute(2, min, max, 0, 0.5));
        Assert.Equal(max, ReconnectBackoff.Compute(20, min, max, 0, 0.5));
        Assert.Equal(max, ReconnectBackoff.Compute(1000, min, max, 0.2, 1.0));
        Assert.Equal(TimeSpan.FromMilliseconds(80), ReconnectBackoff.Compute(0, min, max, 0.2, 0.0));
        Assert.Equal(TimeSpan.FromMilliseconds(120), ReconnectBackoff.Compute(0, min, max, 0.2, 1.0));
        await Task.CompletedTask;
    }

    [Fact(Timeout = 10_000)]
    public async Task Options_refuse_a_persistent_session_without_client_id_and_never_print_the_password()
    {
        Assert.Throws<ArgumentException>(() => new MqttClient(new MqttClientOptions { CleanStart = false }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MqttClient(new MqttClientOptions { MaximumOutgoingInflight = 0 }));
        var options = new MqttClientOptions { ClientId = "c", Username = "u", Password = "hunter2" };
        Assert.DoesNotContain("hunter2", options.ToString(), StringComparison.Ordinal);
        Assert.Contains("Password = ***", options.ToString(), StringComparison.Ordinal);
        await Task.CompletedTask;
    }

    [Fact(Timeout = 10_000)]
    public async Task Received_batch_packs_topics_and_payloads_into_pooled_storage_and_creates_topic_strings_lazily()
    {
        await using var client = new MqttClient(new MqttClientOptions());
        var batch = new MqttReceivedBatch(client, generation: 7, maximumMessages: 3, initialBytes: 8);
        Add(batch, "a/b", "first", MqttQualityOfService.AtLeastOnce, 11);
        Add(batch, "a/c", new string('x', 1000), MqttQualityOfService.AtMostOnce, 0);
        Assert.False(batch.IsFull);
        Add(batch, "a/b", "third", MqttQualityOfService.AtLeastOnce, 12);
        Assert.True(batch.IsFull);

        Assert.Equal(3, batch.Count);
        Assert.Equal(7, batch.ConnectionGeneration);
        Assert.Equal("a/b", batch[0].Topic);
        Assert.Same(batch[0].Topic, batch[0].Topic);
        Assert.Equal("first", Encoding.UTF8.GetString(batch[0].Payload.Span));
        Assert.Equal(1000, batch[1].Payload.Length);
        Assert.Equal("a/c"u8.ToArray(), batch[1].TopicUtf8.ToArray());
        Assert.Equal((ushort)12, batch[2].PacketId);
        Assert.Equal(["first", new string('x', 1000), "third"], EnumeratePayloads(batch));

        batch.Dispose();
        Assert.Throws<ObjectDisposedException>(() => batch[0]);
        batch.Dispose();
    }

    [Fact(Timeout = 10_000)]
    public async Task Inflight_window_admits_up_to_its_limit_and_a_cancelled_waiter_does_not_keep_a_slot()
    {
        var window = new InflightWindow(2);
        Assert.True(window.TryAcquire());
        Assert.True(window.TryAcquire());
        Assert.False(window.TryAcquire());

        using var cancel = new CancellationTokenSource();
        var cancelled = window.AcquireAsync(cancel.Token);
        var waiting = window.AcquireAsync(CancellationToken.None);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.False(waiting.IsCompleted);

        window.Release();
        await waiting.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal(2, window.Count);
        Assert.Equal(2, window.Peak);

        window.SetLimit(3);
        Assert.True(window.TryAcquire());
        Assert.Equal(3, window.Count);
    }

    [Fact(Timeout = 10_000)]
    public async Task Connack_codes_are_named_the_way_each_version_defines_them()
    {
        Assert.Equal("0x86 Bad User Name or Password", MqttReasonCodes.DescribeConnAck(0x86, MqttProtocolVersion.V500));
        Assert.Equal("return code 4 (Bad user name or password)", MqttReasonCodes.DescribeConnAck(4, MqttProtocolVersion.V311));
        var error = new MqttConnectException("h", 1883, 5, MqttProtocolVersion.V311);
        Assert.Equal("MQTT connection to h:1883 refused: return code 5 (Not authorized)", error.Message);
        Assert.Equal("Not authorized", error.ReasonName);
        await Task.CompletedTask;
    }

    [Fact(Timeout = 10_000)]
    public async Task Connecting_to_a_closed_port_fails_fast_and_dispose_completes()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var client = new MqttClient(new MqttClientOptions { Port = port, ConnectTimeout = TimeSpan.FromSeconds(2) });
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => client.ConnectAsync(TestContext.Current.CancellationToken));
        await client.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.ConnectAsync(TestContext.Current.CancellationToken));
    }

    [Fact(Timeout = 10_000)]
    public async Task A_suback_with_the_wrong_number_of_codes_faults_the_subscriber_instead_of_hanging_it()
    {
        var token = TestContext.Current.CancellationToken;

        // Answers the one-filter SUBSCRIBE with two codes; the held socket means only the SUBACK can end the wait.
        await using var broker = new ScriptedBroker(
            async (stream, ct) =>
            {
                var subscribe = await ReadPacketAsync(stream, ct);
                await stream.WriteAsync(new byte[] { 0x90, 0x05, subscribe[0], subscribe[1], 0x00, 0x01, 0x01 }, ct);
            },
            token);
        await using var client = new MqttClient(broker.ClientOptions("suback-count"));
        await client.ConnectAsync(token);
        var subscribe = client.SubscribeAsync("it/one", MqttQualityOfService.AtLeastOnce, token);
        await Assert.ThrowsAsync<MqttProtocolException>(() => subscribe.WaitAsync(TimeSpan.FromSeconds(5), token));
    }

    [Theory(Timeout = 30_000)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_blocking_publish_continuation_holds_back_the_next_acknowledgement_only_with_inline_completions(bool inline)
    {
        var token = TestContext.Current.CancellationToken;
        var continuationAttached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Takes both PUBLISHes and acknowledges them together once the test has attached its continuation, so both
        // PUBACKs reach the client in one read. Topic "it/one" is 6 bytes: the packet id follows its 2-byte length
        // and the topic, at bytes 8 and 9.
        await using var broker = new ScriptedBroker(
            async (stream, ct) =>
            {
                var first = await ReadPacketAsync(stream, ct);
                var second = await ReadPacketAsync(stream, ct);
                await continuationAttached.Task.WaitAsync(ct);
                await stream.WriteAsync(new byte[] { 0x40, 0x02, first[8], first[9], 0x40, 0x02, second[8], second[9] }, ct);
            },
            token);
        await using var client = new MqttClient(broker.ClientOptions("inline-completions") with { InlinePublishCompletions = inline });
        await client.ConnectAsync(token);
        using var release = new ManualResetEventSlim();

        var first = client.PublishAsync("it/one", "a"u8.ToArray(), MqttQualityOfService.AtLeastOnce, cancellationToken: token).AsTask();
        var second = client.PublishAsync("it/one", "b"u8.ToArray(), MqttQualityOfService.AtLeastOnce, cancellationToken: token).AsTask();
        var blocked = first.ContinueWith(_ => release.Wait(TimeSpan.FromSeconds(10)), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        continuationAttached.SetResult();

        // Polled, not awaited: an await's continuation would queue behind the blocking one on the same thread.
        for (var waited = 0; !first.IsCompleted && waited < 5_000; waited += 10)
        {
            await Task.Delay(10, token);
        }

        Assert.True(first.IsCompletedSuccessfully);
        await Task.WhenAny(second, Task.Delay(TimeSpan.FromSeconds(1), token));
        Assert.Equal(!inline, second.IsCompleted);

        release.Set();
        Assert.True((await first).IsSuccess);
        Assert.True((await second.WaitAsync(TimeSpan.FromSeconds(5), token)).IsSuccess);
        Assert.True(await blocked);
    }

    /// <summary>Reads one MQTT packet off the wire and returns its variable header and payload.</summary>
    private static async Task<byte[]> ReadPacketAsync(System.Net.Sockets.NetworkStream stream, CancellationToken cancellationToken)
    {
        var one = new byte[1];
        await stream.ReadExactlyAsync(one, cancellationToken); // fixed header type and flags
        var length = 0;
        for (var shift = 0; ; shift += 7)
        {
            await stream.ReadExactlyAsync(one, cancellationToken);
            length |= (one[0] & 0x7F) << shift;
            if ((one[0] & 0x80) == 0)
            {
                break;
            }
        }

        var body = new byte[length];
        await stream.ReadExactlyAsync(body, cancellationToken);
        return body;
    }

    private static List<string> EnumeratePayloads(MqttReceivedBatch batch)
    {
        var payloads = new List<string>();
        foreach (var message in batch)
        {
            payloads.Add(Encoding.UTF8.GetString(message.Payload.Span));
        }

        return payloads;
    }

    private static void Add(MqttReceivedBatch batch, string topic, string payload, MqttQualityOfService qos, ushort packetId)
    {
        var view = new MqttPublishView(Encoding.UTF8.GetBytes(topic), Encoding.UTF8.GetBytes(payload), qos, retain: false, dup: false, packetId, topicAlias: 0);
        batch.Add(view);
    }

    /// <summary>
    /// A fake 5.0 broker on a loopback port for one client: answers its CONNECT with success, runs the script, then
    /// holds the socket until the client lets go. Dispose after the client.
    /// </summary>
    private sealed class ScriptedBroker : IAsyncDisposable
    {
        private readonly System.Net.Sockets.TcpListener _listener = new(System.Net.IPAddress.Loopback, 0);
        private readonly Task _server;

        public ScriptedBroker(Func<System.Net.Sockets.NetworkStream, CancellationToken, Task> script, CancellationToken cancellationToken)
        {
            _listener.Start();
            Port = ((System.Net.IPEndPoint)_listener.LocalEndpoint).Port;
            _server = Task.Run(
                async () =>
                {
                    using var socket = await _listener.AcceptTcpClientAsync(cancellationToken);
                    var stream = socket.GetStream();
                    await ReadPacketAsync(stream, cancellationToken); // CONNECT
                    await stream.WriteAsync(new byte[] { 0x20, 0x03, 0x00, 0x00, 0x00 }, cancellationToken);
                    await script(stream, cancellationToken);
                    _ = await stream.ReadAsync(new byte[1], cancellationToken);
                },
                cancellationToken);
        }

        public int Port { get; }

        public MqttClientOptions ClientOptions(string clientId) => new()
        {
            Port = Port,
            ClientId = clientId,
            ProtocolVersion = MqttProtocolVersion.V500,
            AutoReconnect = false,
            ConnectTimeout = TimeSpan.FromSeconds(2),
        };

        public async ValueTask DisposeAsync()
        {
            await _server.WaitAsync(TimeSpan.FromSeconds(5))
                .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
            _listener.Stop();
        }
    }
}
