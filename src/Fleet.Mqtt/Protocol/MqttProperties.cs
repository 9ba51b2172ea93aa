using System.Text;

namespace Fleet.Mqtt.Protocol;

/// <summary>Property identifiers, 5.0 §2.2.2.2 (Table 2-4).</summary>
internal static class MqttPropertyId
{
    public const byte PayloadFormatIndicator = 0x01;
    public const byte MessageExpiryInterval = 0x02;
    public const byte ContentType = 0x03;
    public const byte ResponseTopic = 0x08;
    public const byte CorrelationData = 0x09;
    public const byte SubscriptionIdentifier = 0x0B;
    public const byte SessionExpiryInterval = 0x11;
    public const byte AssignedClientIdentifier = 0x12;
    public const byte ServerKeepAlive = 0x13;
    public const byte AuthenticationMethod = 0x15;
    public const byte AuthenticationData = 0x16;
    public const byte RequestProblemInformation = 0x17;
    public const byte WillDelayInterval = 0x18;
    public const byte RequestResponseInformation = 0x19;
    public const byte ResponseInformation = 0x1A;
    public const byte ServerReference = 0x1C;
    public const byte ReasonString = 0x1F;
    public const byte ReceiveMaximum = 0x21;
    public const byte TopicAliasMaximum = 0x22;
    public const byte TopicAlias = 0x23;
    public const byte MaximumQoS = 0x24;
    public const byte RetainAvailable = 0x25;
    public const byte UserProperty = 0x26;
    public const byte MaximumPacketSize = 0x27;
    public const byte WildcardSubscriptionAvailable = 0x28;
    public const byte SubscriptionIdentifierAvailable = 0x29;
    public const byte SharedSubscriptionAvailable = 0x2A;
}

/// <summary>
/// Which properties a packet may carry (the "Used in" column of 5.0 Table 2-4), as a bit per identifier.
/// All identifiers are below 64, so a <see cref="ulong"/> holds a set.
/// </summary>
internal readonly record struct MqttPropertyContext(string PacketName, ulong Allowed, ulong Repeatable)
{
    private const ulong UserProperty = 1UL << MqttPropertyId.UserProperty;

    public static readonly MqttPropertyContext Connect = new("CONNECT", Bits(
        MqttPropertyId.SessionExpiryInterval, MqttPropertyId.ReceiveMaximum, MqttPropertyId.MaximumPacketSize,
        MqttPropertyId.TopicAliasMaximum, MqttPropertyId.RequestResponseInformation, MqttPropertyId.RequestProblemInformation,
        MqttPropertyId.UserProperty, MqttPropertyId.AuthenticationMethod, MqttPropertyId.AuthenticationData), UserProperty);

    public static readonly MqttPropertyContext Will = new("Will Properties", Bits(
        MqttPropertyId.WillDelayInterval, MqttPropertyId.PayloadFormatIndicator, MqttPropertyId.MessageExpiryInterval,
        MqttPropertyId.ContentType, MqttPropertyId.ResponseTopic, MqttPropertyId.CorrelationData, MqttPropertyId.UserProperty), UserProperty);

    public static readonly MqttPropertyContext ConnAck = new("CONNACK", Bits(
        MqttPropertyId.SessionExpiryInterval, MqttPropertyId.ReceiveMaximum, MqttPropertyId.MaximumQoS, MqttPropertyId.RetainAvailable,
        MqttPropertyId.MaximumPacketSize, MqttPropertyId.AssignedClientIdentifier, MqttPropertyId.TopicAliasMaximum,
        MqttPropertyId.ReasonString, MqttPropertyId.UserProperty, MqttPropertyId.WildcardSubscriptionAvailable,
        MqttPropertyId.SubscriptionIdentifierAvailable, MqttPropertyId.SharedSubscriptionAvailable, MqttPropertyId.ServerKeepAlive,
        MqttPropertyId.ResponseInformation, MqttPropertyId.ServerReference, MqttPropertyId.AuthenticationMethod,
        MqttPropertyId.AuthenticationData), UserProperty);

    // A PUBLISH forwarded to a subscriber carries one Subscription Identifier per matching subscription (5.0 §3.3.2.3.8).
    public static readonly MqttPropertyContext Publish = new("PUBLISH", Bits(
        MqttPropertyId.PayloadFormatIndicator, MqttPropertyId.MessageExpiryInterval, MqttPropertyId.TopicAlias,
        MqttPropertyId.ResponseTopic, MqttPropertyId.CorrelationData, MqttPropertyId.UserProperty,
        MqttPropertyId.SubscriptionIdentifier, MqttPropertyId.ContentType), UserProperty | (1UL << MqttPropertyId.SubscriptionIdentifier));

    public static readonly MqttPropertyContext PubAck = new("PUBACK", Bits(MqttPropertyId.ReasonString, MqttPropertyId.UserProperty), UserProperty);

    public static readonly MqttPropertyContext Subscribe = new("SUBSCRIBE", Bits(MqttPropertyId.SubscriptionIdentifier, MqttPropertyId.UserProperty), UserProperty);

    public static readonly MqttPropertyContext SubAck = new("SUBACK", Bits(MqttPropertyId.ReasonString, MqttPropertyId.UserProperty), UserProperty);

    public static readonly MqttPropertyContext Unsubscribe = new("UNSUBSCRIBE", Bits(MqttPropertyId.UserProperty), UserProperty);

    public static readonly MqttPropertyContext UnsubAck = new("UNSUBACK", Bits(MqttPropertyId.ReasonString, MqttPropertyId.UserProperty), UserProperty);

    public static readonly MqttPropertyContext Disconnect = new("DISCONNECT", Bits(
        MqttPropertyId.SessionExpiryInterval, MqttPropertyId.ReasonString, MqttPropertyId.UserProperty, MqttPropertyId.ServerReference), UserProperty);

    private static ulong Bits(params ReadOnlySpan<byte> ids)
    {
        ulong bits = 0;
        foreach (var id in ids)
        {
            bits |= 1UL << id;
        }

        return bits;
    }
}

/// <summary>One property as read from the wire: the identifier and its value, still as slices of the packet.</summary>
internal readonly ref struct MqttProperty
{
    public MqttProperty(byte id, uint number, ReadOnlySpan<byte> data, ReadOnlySpan<byte> data2)
    {
        Id = id;
        Number = number;
        Data = data;
        Data2 = data2;
    }

    public byte Id { get; }

    /// <summary>The value of a Byte, Two/Four Byte Integer or Variable Byte Integer property.</summary>
    public uint Number { get; }

    /// <summary>The bytes of a string or binary property, or the name of a User Property.</summary>
    public ReadOnlySpan<byte> Data { get; }

    /// <summary>The value of a User Property.</summary>
    public ReadOnlySpan<byte> Data2 { get; }

    public string GetString() => Encoding.UTF8.GetString(Data);

    public MqttUserProperty GetUserProperty() => new(Encoding.UTF8.GetString(Data), Encoding.UTF8.GetString(Data2));
}

/// <summary>
/// Walks a 5.0 property block (§2.2.2) and validates it while reading: the block length fits the packet, each
/// identifier is known and allowed in this packet, non-repeatable properties appear once, and each value is well-formed
/// and in range. It allocates nothing; only a caller that keeps a string pays for one.
/// </summary>
internal ref struct MqttPropertyReader
{
    private readonly MqttPropertyContext _context;
    private MqttBufferReader _reader;
    private ulong _seen;

    private MqttPropertyReader(ReadOnlySpan<byte> block, MqttPropertyContext context)
    {
        _reader = new MqttBufferReader(block, MqttProtocolVersion.V500);
        _context = context;
    }

    /// <summary>Reads the Property Length at the reader's position and takes that many bytes as the block.</summary>
    public static MqttPropertyReader Begin(ref MqttBufferReader reader, MqttPropertyContext context)
    {
        var length = reader.ReadVariableByteInteger();
        if (length > reader.Remaining)
        {
            // Formatted only here: the hot path must not build strings.
            throw new MqttProtocolException("5.0 §2.2.2.1", $"{context.PacketName} property block of {length} bytes runs past the end of the packet ({reader.Remaining} left)");
        }

        var block = reader.ReadBytes((int)length, "Property block", "5.0 §2.2.2.1");
        return new MqttPropertyReader(block, context);
    }

    /// <summary>A reader over no properties, for the 5.0 short forms that omit the Property Length.</summary>
    public static MqttPropertyReader Empty(MqttPropertyContext context) => new(default, context);

    public bool TryRead(out MqttProperty property)
    {
        if (_reader.IsAtEnd)
        {
            property = default;
            return false;
        }

        // The identifier is a Variable Byte Integer, but every identifier defined in 5.0 fits in one byte.
        var rawId = _reader.ReadVariableByteInteger();
        if (rawId > 63 || !IsKnown((byte)rawId))
        {
            throw new MqttProtocolException("5.0 §2.2.2.2", $"Unknown property identifier 0x{rawId:X2} in {_context.PacketName}");
        }

        var id = (byte)rawId;
        var bit = 1UL << id;
        if ((_context.Allowed & bit) == 0)
        {
            throw new MqttProtocolException("5.0 §2.2.2.2", $"Property 0x{id:X2} is not allowed in {_context.PacketName}") { ReasonCode = 0x82 };
        }

        if ((_seen & bit) != 0 && (_context.Repeatable & bit) == 0)
        {
            throw new MqttProtocolException("5.0 §2.2.2.2", $"Property 0x{id:X2} appears more than once in {_context.PacketName}") { ReasonCode = 0x82 };
        }

        _seen |= bit;
        property = ReadValue(id);
        return true;
    }

    private MqttProperty ReadValue(byte id)
    {
        switch (id)
        {
            // Byte properties whose only legal values are 0 and 1.
            case MqttPropertyId.PayloadFormatIndicator:
            case MqttPropertyId.RequestProblemInformation:
            case MqttPropertyId.RequestResponseInformation:
            case MqttPropertyId.MaximumQoS:
            case MqttPropertyId.RetainAvailable:
            case MqttPropertyId.WildcardSubscriptionAvailable:
            case MqttPropertyId.SubscriptionIdentifierAvailable:
            case MqttPropertyId.SharedSubscriptionAvailable:
                var flag = _reader.ReadByte();
                if (flag > 1)
                {
                    throw ValueError(id, $"value {flag} is not 0 or 1");
                }

                return new MqttProperty(id, flag, default, default);

            case MqttPropertyId.MessageExpiryInterval:
            case MqttPropertyId.SessionExpiryInterval:
            case MqttPropertyId.WillDelayInterval:
                return new MqttProperty(id, _reader.ReadFourByteInteger(), default, default);

            case MqttPropertyId.MaximumPacketSize:
                var size = _reader.ReadFourByteInteger();
                return size == 0 ? throw ValueError(id, "Maximum Packet Size of 0") : new MqttProperty(id, size, default, default);

            case MqttPropertyId.ServerKeepAlive:
            case MqttPropertyId.TopicAliasMaximum:
                return new MqttProperty(id, _reader.ReadTwoByteInteger(), default, default);

            case MqttPropertyId.ReceiveMaximum:
                var receiveMaximum = _reader.ReadTwoByteInteger();
                return receiveMaximum == 0 ? throw ValueError(id, "Receive Maximum of 0") : new MqttProperty(id, receiveMaximum, default, default);

            case MqttPropertyId.TopicAlias:
                var alias = _reader.ReadTwoByteInteger();
                return alias == 0
                    ? throw new MqttProtocolException("MQTT-3.3.2-8", "Topic Alias of 0 is not permitted") { ReasonCode = 0x94 }
                    : new MqttProperty(id, alias, default, default);

            case MqttPropertyId.SubscriptionIdentifier:
                var subscriptionId = _reader.ReadVariableByteInteger();
                return subscriptionId == 0 ? throw ValueError(id, "Subscription Identifier of 0") : new MqttProperty(id, subscriptionId, default, default);

            case MqttPropertyId.ResponseTopic:
                var responseTopic = _reader.ReadUtf8EncodedStringBytes();
                if (responseTopic.IndexOfAny((byte)'+', (byte)'#') >= 0)
                {
                    throw new MqttProtocolException("MQTT-3.3.2-14", "Response Topic contains a wildcard character") { ReasonCode = 0x82 };
                }

                return new MqttProperty(id, 0, responseTopic, default);

            case MqttPropertyId.ContentType:
            case MqttPropertyId.AssignedClientIdentifier:
            case MqttPropertyId.AuthenticationMethod:
            case MqttPropertyId.ResponseInformation:
            case MqttPropertyId.ServerReference:
            case MqttPropertyId.ReasonString:
                return new MqttProperty(id, 0, _reader.ReadUtf8EncodedStringBytes(), default);

            case MqttPropertyId.CorrelationData:
            case MqttPropertyId.AuthenticationData:
                return new MqttProperty(id, 0, _reader.ReadBinaryData(), default);

            case MqttPropertyId.UserProperty:
                _reader.ReadUtf8StringPairBytes(out var name, out var value);
                return new MqttProperty(id, 0, name, value);

            default:
                // IsKnown has already rejected everything else.
                throw new MqttProtocolException("5.0 §2.2.2.2", $"Unknown property identifier 0x{id:X2}");
        }
    }

    private readonly MqttProtocolException ValueError(byte id, string problem)
        => new("5.0 §2.2.2.2", $"Property 0x{id:X2} in {_context.PacketName}: {problem} is a protocol error") { ReasonCode = 0x82 };

    private static bool IsKnown(byte id) => id is
        MqttPropertyId.PayloadFormatIndicator or MqttPropertyId.MessageExpiryInterval or MqttPropertyId.ContentType or
        MqttPropertyId.ResponseTopic or MqttPropertyId.CorrelationData or MqttPropertyId.SubscriptionIdentifier or
        MqttPropertyId.SessionExpiryInterval or MqttPropertyId.AssignedClientIdentifier or MqttPropertyId.ServerKeepAlive or
        MqttPropertyId.AuthenticationMethod or MqttPropertyId.AuthenticationData or MqttPropertyId.RequestProblemInformation or
        MqttPropertyId.WillDelayInterval or MqttPropertyId.RequestResponseInformation or MqttPropertyId.ResponseInformation or
        MqttPropertyId.ServerReference or MqttPropertyId.ReasonString or MqttPropertyId.ReceiveMaximum or
        MqttPropertyId.TopicAliasMaximum or MqttPropertyId.TopicAlias or MqttPropertyId.MaximumQoS or
        MqttPropertyId.RetainAvailable or MqttPropertyId.UserProperty or MqttPropertyId.MaximumPacketSize or
        MqttPropertyId.WildcardSubscriptionAvailable or MqttPropertyId.SubscriptionIdentifierAvailable or
        MqttPropertyId.SharedSubscriptionAvailable;
}
