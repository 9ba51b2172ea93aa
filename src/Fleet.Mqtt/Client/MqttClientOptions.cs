using System.Globalization;
using System.Net.Security;
using System.Text;
using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Client;

/// <summary>Immutable settings of one <see cref="MqttClient"/>.</summary>
public sealed record MqttClientOptions
{
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 1883;

    /// <summary>Empty lets the broker assign one (only with a clean start).</summary>
    public string ClientId { get; init; } = "";

    public MqttProtocolVersion ProtocolVersion { get; init; } = MqttProtocolVersion.V500;

    /// <summary>Keep-alive announced in CONNECT; zero disables it. Whole seconds on the wire.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long to wait for PINGRESP before the connection is treated as broken; null means the keep-alive.</summary>
    public TimeSpan? PingTimeout { get; init; }

    /// <summary>
    /// Clean start (5.0) / clean session (3.1.1) of the first connection. Reconnects at 5.0 always ask to resume,
    /// so the <see cref="SessionExpiryInterval"/> decides whether anything is kept.
    /// </summary>
    public bool CleanStart { get; init; } = true;

    /// <summary>5.0 Session Expiry Interval in seconds; 0 ends the session with the connection. Ignored at 3.1.1.</summary>
    public uint SessionExpiryInterval { get; init; }

    public string? Username { get; init; }
    public string? Password { get; init; }
    public MqttWill? Will { get; init; }

    /// <summary>Our Receive Maximum (5.0): how many unacknowledged QoS 1 messages the broker may send us.</summary>
    public ushort ReceiveMaximum { get; init; } = ushort.MaxValue;

    /// <summary>Largest packet we accept; announced at 5.0 and enforced before anything is buffered.</summary>
    public int MaximumPacketSize { get; init; } = 1024 * 1024;

    /// <summary>Our own cap on unacknowledged outgoing QoS 1 publishes; the broker's Receive Maximum may lower it.</summary>
    public int MaximumOutgoingInflight { get; init; } = 65_000;

    /// <summary>When set, the connection is wrapped in TLS with these options (TargetHost defaults to <see cref="Host"/>).</summary>
    public SslClientAuthenticationOptions? Tls { get; init; }

    public bool AutoReconnect { get; init; } = true;
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Fraction (0–1) by which each reconnect delay is randomly shortened or lengthened.</summary>
    public double ReconnectJitter { get; init; } = 0.2;

    /// <summary>When true, QoS 1 messages are acknowledged only by <see cref="MqttReceivedBatch.AcknowledgeAsync"/>.</summary>
    public bool ManualAcknowledge { get; init; }

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Most messages in one received batch.</summary>
    public int MaximumBatchMessages { get; init; } = 1024;

    /// <summary>Received batches buffered for the consumer before the client stops reading the socket.</summary>
    public int ReceiveQueueBatches { get; init; } = 16;

    /// <summary>
    /// When true, whoever awaits a QoS 1 publish resumes on the thread that read its PUBACK, instead of on the thread
    /// pool. That saves a thread-pool work item per publish for a publisher sending tens of thousands a second (the
    /// load generator), but a continuation that blocks or runs long stalls the receive loop: only for callers whose
    /// continuations are short and never block.
    /// </summary>
    public bool InlinePublishCompletions { get; init; }

    internal TimeSpan EffectivePingTimeout => PingTimeout ?? (KeepAlive > TimeSpan.Zero ? KeepAlive : TimeSpan.FromSeconds(30));

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(Host);
        ArgumentOutOfRangeException.ThrowIfLessThan(Port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Port, 65535);
        ArgumentNullException.ThrowIfNull(ClientId);
        if (ProtocolVersion is not (MqttProtocolVersion.V311 or MqttProtocolVersion.V500))
        {
            throw new ArgumentException($"Unsupported protocol version {ProtocolVersion}.", nameof(ProtocolVersion));
        }

        if (KeepAlive < TimeSpan.Zero || KeepAlive.TotalSeconds > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(KeepAlive), KeepAlive, "Keep-alive must be between 0 and 65535 s.");
        }

        if (ClientId.Length == 0 && !CleanStart)
        {
            throw new ArgumentException("A persistent session needs a client id.", nameof(ClientId));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(ReceiveMaximum, (ushort)1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaximumPacketSize, 16);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaximumOutgoingInflight, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaximumOutgoingInflight, 65_000);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaximumBatchMessages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ReceiveQueueBatches, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ConnectTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(ReconnectMinDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(ReconnectMaxDelay, ReconnectMinDelay);
        if (ReconnectJitter is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(ReconnectJitter), ReconnectJitter, "Jitter must be between 0 and 1.");
        }
    }

    // Keeps the password out of logs that print the options.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append(CultureInfo.InvariantCulture, $"Host = {Host}, Port = {Port}, ClientId = {ClientId}, ProtocolVersion = {ProtocolVersion}, ");
        builder.Append(CultureInfo.InvariantCulture, $"KeepAlive = {KeepAlive}, CleanStart = {CleanStart}, SessionExpiryInterval = {SessionExpiryInterval}, ");
        builder.Append(CultureInfo.InvariantCulture, $"Username = {Username}, Password = {(Password is null ? "null" : "***")}, Tls = {Tls is not null}, ");
        builder.Append(CultureInfo.InvariantCulture, $"ManualAcknowledge = {ManualAcknowledge}, ReceiveMaximum = {ReceiveMaximum}, MaximumOutgoingInflight = {MaximumOutgoingInflight}");
        return true;
    }
}
