using System.Buffers;
using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Tests.Protocol;

/// <summary>Malformed input: each case is a protocol error naming the clause it breaks, never a crash.</summary>
public sealed class MqttMalformedPacketTests
{
    private const MqttProtocolVersion V311 = MqttProtocolVersion.V311;
    private const MqttProtocolVersion V500 = MqttProtocolVersion.V500;

    private static void AssertHeaderFails(string clause, byte[] wire, int maximumPacketSize = 1 << 20)
        => Wire.AssertProtocolError(clause, () => MqttPacketDecoder.TryReadFixedHeader(new ReadOnlySequence<byte>(wire), maximumPacketSize, out _));

    [Fact]
    public void Remaining_length_with_a_fifth_byte_is_rejected_by_the_header_reader()
    {
        AssertHeaderFails("MQTT-1.5.5-1", [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);

        // Known to be malformed as soon as the fourth byte says "more follows".
        AssertHeaderFails("MQTT-1.5.5-1", [0x30, 0xFF, 0xFF, 0xFF, 0xFF]);
    }

    [Fact]
    public void Remaining_length_that_is_not_minimally_encoded_is_rejected()
        => AssertHeaderFails("MQTT-1.5.5-1", [0x30, 0x83, 0x00]);

    [Fact]
    public void Packet_larger_than_the_maximum_packet_size_is_rejected_from_its_header_without_allocating_for_it()
    {
        // PUBLISH claiming 200 MB: 200 * 1024 * 1024 = 209,715,200 = 0x0C800000 -> VBI 80 80 80 64.
        byte[] wire = [0x30, 0x80, 0x80, 0x80, 0x64];
        var sequence = new ReadOnlySequence<byte>(wire);
        Assert.True(MqttPacketDecoder.TryReadFixedHeader(sequence, int.MaxValue, out var header));
        Assert.Equal(209_715_200, header.RemainingLength);

        // Warm up the throw path so the measurement sees only the exception itself.
        Assert.Throws<MqttProtocolException>(() => MqttPacketDecoder.TryReadFixedHeader(sequence, 64 * 1024, out _));
        var before = GC.GetAllocatedBytesForCurrentThread();
        MqttProtocolException? error = null;
        try
        {
            MqttPacketDecoder.TryReadFixedHeader(sequence, 64 * 1024, out _);
        }
        catch (MqttProtocolException e)
        {
            error = e;
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.NotNull(error);
        Assert.Equal("MQTT-3.1.2-24", error.Clause);
        Assert.Equal(0x95, error.ReasonCode);
        Assert.True(allocated < 16 * 1024, $"Rejecting the header allocated {allocated} bytes");
    }

    [Fact]
    public void Packet_exactly_at_the_maximum_packet_size_is_accepted()
    {
        byte[] wire = [0x30, 0x7F]; // 2 + 127 = 129 bytes in total
        Assert.True(MqttPacketDecoder.TryReadFixedHeader(new ReadOnlySequence<byte>(wire), 129, out _));
        AssertHeaderFails("MQTT-3.1.2-24", wire, 128);
    }

    [Theory]
    [InlineData(0x80, "MQTT-2.1.3-1")] // SUBSCRIBE must be 0x82
    [InlineData(0x8A, "MQTT-2.1.3-1")]
    [InlineData(0xA0, "MQTT-2.1.3-1")] // UNSUBSCRIBE must be 0xA2
    [InlineData(0x60, "MQTT-2.1.3-1")] // PUBREL must be 0x62
    [InlineData(0xC1, "MQTT-2.1.3-1")] // PINGREQ must be 0xC0
    [InlineData(0xD8, "MQTT-2.1.3-1")]
    [InlineData(0x12, "MQTT-2.1.3-1")] // CONNECT must be 0x10
    [InlineData(0x21, "MQTT-2.1.3-1")]
    [InlineData(0x42, "MQTT-2.1.3-1")]
    [InlineData(0x92, "MQTT-2.1.3-1")]
    [InlineData(0xE4, "MQTT-2.1.3-1")]
    [InlineData(0xF1, "MQTT-2.1.3-1")]
    [InlineData(0x00, "5.0 §2.1.2")]   // type 0 is reserved
    [InlineData(0x06, "5.0 §2.1.2")]
    [InlineData(0x36, "MQTT-3.3.1-4")] // PUBLISH QoS 3
    [InlineData(0x3F, "MQTT-3.3.1-4")]
    public void Reserved_types_and_flag_bits_are_rejected_by_the_header_reader(int firstByte, string clause)
        => AssertHeaderFails(clause, [(byte)firstByte, 0x00]);

    [Theory]
    [InlineData(0x82)]
    [InlineData(0xA2)]
    [InlineData(0x62)]
    [InlineData(0xC0)]
    [InlineData(0x3D)]
    public void Correct_fixed_header_flags_are_accepted(int firstByte)
        => Assert.True(MqttPacketDecoder.TryReadFixedHeader(new ReadOnlySequence<byte>([(byte)firstByte, 0x00]), 16, out _));

    [Fact]
    public void Decode_rechecks_flags_of_a_header_it_did_not_read_itself()
        => Wire.AssertProtocolError("MQTT-2.1.3-1", () =>
            MqttPacketDecoder.Decode(new MqttFixedHeader(MqttPacketType.PingReq, 1, 0, 2), [], V500));

    [Fact]
    public void Auth_is_reserved_in_311_and_unsupported_in_5()
    {
        Wire.AssertDecodeFails("3.1.1 §2.2.1", [0xF0, 0x00], V311);
        Wire.AssertDecodeFails("5.0 §4.12", [0xF0, 0x00], V500);
    }

    [Theory]
    [InlineData(new byte[] { 0x50, 0x02, 0x00, 0x01 })] // PUBREC
    [InlineData(new byte[] { 0x62, 0x02, 0x00, 0x01 })] // PUBREL
    [InlineData(new byte[] { 0x70, 0x02, 0x00, 0x01 })] // PUBCOMP
    public void Qos2_acknowledgements_are_unsupported(byte[] wire)
    {
        var error = Wire.AssertDecodeFails("5.0 §4.3.3", wire, V500);
        Assert.Contains("QoS 2", error.Message, StringComparison.Ordinal);
        Wire.AssertDecodeFails("3.1.1 §4.3.3", wire, V311);
    }

    [Theory]
    [InlineData(new byte[] { 0x30, 0x06, 0x00, 0x02, 0xC3, 0x28, 0x68, 0x69 }, "MQTT-1.5.3-1", "MQTT-1.5.4-1")]       // invalid 2-byte sequence
    [InlineData(new byte[] { 0x30, 0x07, 0x00, 0x03, 0xED, 0xA0, 0x80, 0x68, 0x69 }, "MQTT-1.5.3-1", "MQTT-1.5.4-1")] // encoded surrogate U+D800
    [InlineData(new byte[] { 0x30, 0x07, 0x00, 0x03, 0x61, 0x00, 0x62, 0x68, 0x69 }, "MQTT-1.5.3-2", "MQTT-1.5.4-2")] // U+0000 in "a\0b"
    public void Invalid_utf8_in_a_publish_topic_is_a_protocol_error(byte[] wire311, string clause311, string clause500)
    {
        Wire.AssertDecodeFails(clause311, wire311, V311);

        // Same topic in 5.0: the property length byte 0x00 goes after the topic, so the remaining length grows by one.
        var topicEnd = 4 + ((wire311[2] << 8) | wire311[3]);
        byte[] wire500 = [0x30, (byte)(wire311[1] + 1), .. wire311[2..topicEnd], 0x00, .. wire311[topicEnd..]];
        Wire.AssertDecodeFails(clause500, wire500, V500);

        // The allocation-free view validates exactly as much.
        Wire.AssertProtocolError(clause500, () =>
        {
            var header = Wire.ReadHeader(wire500);
            MqttPacketDecoder.DecodePublish(header, wire500.AsSpan(header.HeaderLength), V500);
        });
    }

    [Fact]
    public void Qos1_publish_with_packet_id_zero_is_a_protocol_error()
    {
        Wire.AssertDecodeFails("MQTT-2.3.1-1", Wire.Bytes(0x32, 0x07, 0x00, 0x03, "a/b", 0x00, 0x00), V311);
        Wire.AssertDecodeFails("MQTT-2.2.1-3", Wire.Bytes(0x32, 0x08, 0x00, 0x03, "a/b", 0x00, 0x00, 0x00), V500);
    }

    [Fact]
    public void Qos0_publish_with_dup_is_a_protocol_error()
        => Wire.AssertDecodeFails("MQTT-3.3.1-2", Wire.Bytes(0x38, 0x07, 0x00, 0x03, "a/b", "hi"), V311);

    [Theory]
    [InlineData("a/#")]
    [InlineData("+/b")]
    [InlineData("#")]
    public void Publish_topic_with_wildcards_is_a_protocol_error(string topic)
    {
        var wire = Wire.Bytes(0x30, 2 + topic.Length, 0x00, topic.Length, topic);
        Wire.AssertDecodeFails("MQTT-3.3.2-2", wire, V311);
    }

    [Fact]
    public void Publish_with_empty_topic_is_a_protocol_error_unless_5_gives_a_topic_alias()
    {
        Wire.AssertDecodeFails("MQTT-4.7.3-1", Wire.Bytes(0x30, 0x04, 0x00, 0x00, "hi"), V311);
        Wire.AssertDecodeFails("5.0 §3.3.2.3.4", Wire.Bytes(0x30, 0x05, 0x00, 0x00, 0x00, "hi"), V500);
    }

    [Fact]
    public void String_length_beyond_the_body_is_a_protocol_error()
    {
        // Topic length says 9, but only "a/b" follows.
        Wire.AssertDecodeFails("3.1.1 §1.5.3", Wire.Bytes(0x30, 0x05, 0x00, 0x09, "a/b"), V311);
        Wire.AssertDecodeFails("5.0 §1.5.4", Wire.Bytes(0x30, 0x05, 0x00, 0x09, "a/b"), V500);

        // CONNECT whose client identifier claims 65535 bytes.
        Wire.AssertDecodeFails("3.1.1 §1.5.3", Wire.Bytes(0x10, 0x0E, 0x00, 0x04, "MQTT", 0x04, 0x02, 0x00, 0x1E, 0xFF, 0xFF, "ab"), V311);
    }

    [Fact]
    public void Property_length_beyond_the_body_is_a_protocol_error()
        => Wire.AssertDecodeFails("5.0 §2.2.2.1", Wire.Bytes(0x30, 0x07, 0x00, 0x03, "a/b", 0x7F, "h"), V500);

    [Fact]
    public void Unknown_property_identifier_is_a_protocol_error()
    {
        // Property 0x05 is not defined in 5.0.
        var wire = Wire.Bytes(0x30, 0x0A, 0x00, 0x03, "a/b", 0x02, 0x05, 0x00, "hi");
        Wire.AssertDecodeFails("5.0 §2.2.2.2", wire, V500);
        Wire.AssertProtocolError("5.0 §2.2.2.2", () =>
        {
            var header = Wire.ReadHeader(wire);
            MqttPacketDecoder.DecodePublish(header, wire.AsSpan(header.HeaderLength), V500);
        });
    }

    [Fact]
    public void Property_not_allowed_in_the_packet_is_a_protocol_error()
    {
        // Session Expiry Interval (0x11) belongs to CONNECT/CONNACK/DISCONNECT, not PUBLISH.
        var error = Wire.AssertDecodeFails("5.0 §2.2.2.2", Wire.Bytes(0x30, 0x0D, 0x00, 0x03, "a/b", 0x05, 0x11, 0x00, 0x00, 0x00, 0x01, "hi"), V500);
        Assert.Equal(0x82, error.ReasonCode);
    }

    [Fact]
    public void Duplicate_property_is_a_protocol_error()
    {
        // Two Topic Alias properties.
        var wire = Wire.Bytes(0x30, 0x0E, 0x00, 0x03, "a/b", 0x06, 0x23, 0x00, 0x01, 0x23, 0x00, 0x02, "hi");
        var error = Wire.AssertDecodeFails("5.0 §2.2.2.2", wire, V500);
        Assert.Contains("more than once", error.Message, StringComparison.Ordinal);

        // Two Receive Maximum properties in a CONNACK.
        Wire.AssertDecodeFails("5.0 §2.2.2.2", Wire.Bytes(0x20, 0x09, 0x00, 0x00, 0x06, 0x21, 0x00, 0x01, 0x21, 0x00, 0x02), V500);
    }

    [Fact]
    public void Repeatable_properties_may_appear_more_than_once()
    {
        // Two Subscription Identifiers (one per matching subscription) and two User Properties in a PUBLISH.
        var wire = Wire.Bytes(
            0x30, 0x16,                                  // PUBLISH QoS 0, remaining length 22, empty payload
            0x00, 0x01, "t",                             // topic
            0x12,                                        // property length 18
            0x26, 0x00, 0x01, "a", 0x00, 0x01, "1",      // user property a=1
            0x26, 0x00, 0x01, "a", 0x00, 0x00,           // user property a="" (names may repeat)
            0x0B, 0x01, 0x0B, 0x81, 0x01);               // subscription identifiers 1 and 129
        var packet = Wire.Decode<PublishPacket>(wire, V500);
        Assert.Equal([1u, 129u], packet.SubscriptionIdentifiers);
        Assert.Equal([new MqttUserProperty("a", "1"), new MqttUserProperty("a", "")], packet.UserProperties);
        Assert.Equal(wire, Wire.Encode(packet, V500));
    }

    [Fact]
    public void Property_values_the_spec_forbids_are_protocol_errors()
    {
        Wire.AssertDecodeFails("MQTT-3.3.2-8", Wire.Bytes(0x30, 0x0A, 0x00, 0x03, "a/b", 0x03, 0x23, 0x00, 0x00, "h"), V500);        // topic alias 0
        Wire.AssertDecodeFails("5.0 §2.2.2.2", Wire.Bytes(0x30, 0x09, 0x00, 0x03, "a/b", 0x02, 0x0B, 0x00, "h"), V500);             // subscription id 0
        Wire.AssertDecodeFails("5.0 §2.2.2.2", Wire.Bytes(0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02), V500);                         // maximum QoS 2
        Wire.AssertDecodeFails("5.0 §2.2.2.2", Wire.Bytes(0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x00), V500);                   // receive maximum 0
        Wire.AssertDecodeFails("MQTT-3.3.2-14", Wire.Bytes(0x30, 0x0B, 0x00, 0x01, "t", 0x06, 0x08, 0x00, 0x03, "r/#", "h"), V500); // wildcard response topic
    }

    [Fact]
    public void Subscribe_without_filters_is_a_protocol_error()
    {
        Wire.AssertDecodeFails("MQTT-3.8.3-3", [0x82, 0x02, 0x00, 0x01], V311);
        Wire.AssertDecodeFails("MQTT-3.8.3-2", [0x82, 0x03, 0x00, 0x01, 0x00], V500);
        Assert.Throws<ArgumentException>(() => Wire.Encode(new SubscribePacket(1, []), V500));
    }

    [Fact]
    public void Unsubscribe_without_filters_is_a_protocol_error()
    {
        Wire.AssertDecodeFails("MQTT-3.10.3-2", [0xA2, 0x02, 0x00, 0x01], V311);
        Wire.AssertDecodeFails("MQTT-3.10.3-2", [0xA2, 0x03, 0x00, 0x01, 0x00], V500);
    }

    [Fact]
    public void Subscribe_options_with_reserved_bits_or_bad_values_are_protocol_errors()
    {
        Wire.AssertDecodeFails("MQTT-3.8.3-4", Wire.Bytes(0x82, 0x06, 0x00, 0x01, 0x00, 0x01, "a", 0x04), V311); // 3.1.1: bits 7-2 reserved
        Wire.AssertDecodeFails("MQTT-3.8.3-4", Wire.Bytes(0x82, 0x06, 0x00, 0x01, 0x00, 0x01, "a", 0x03), V311); // 3.1.1: QoS 3
        Wire.AssertDecodeFails("MQTT-3.8.3-5", Wire.Bytes(0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, "a", 0x40), V500); // 5.0: bits 7-6 reserved
        Wire.AssertDecodeFails("5.0 §3.8.3.1", Wire.Bytes(0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, "a", 0x30), V500); // retain handling 3
        Wire.AssertDecodeFails(
            "MQTT-3.8.3-4",
            Wire.Bytes(0x82, 0x0F, 0x00, 0x01, 0x00, 0x00, 0x09, "$share/g/", 0x04),
            V500); // no local on a shared subscription
    }

    [Fact]
    public void Packet_id_zero_in_subscribe_and_acks_is_a_protocol_error()
    {
        Wire.AssertDecodeFails("MQTT-2.3.1-1", Wire.Bytes(0x82, 0x06, 0x00, 0x00, 0x00, 0x01, "a", 0x00), V311);
        Wire.AssertDecodeFails("5.0 §2.2.1", [0x40, 0x02, 0x00, 0x00], V500);
        Wire.AssertDecodeFails("3.1.1 §2.3.1", [0x90, 0x03, 0x00, 0x00, 0x00], V311);
    }

    [Fact]
    public void Undefined_reason_codes_are_protocol_errors()
    {
        Wire.AssertDecodeFails("3.1.1 §3.2.2.3", [0x20, 0x02, 0x00, 0x06], V311);             // CONNACK return code 6
        Wire.AssertDecodeFails("5.0 §3.2.2.2", [0x20, 0x03, 0x00, 0x01, 0x00], V500);         // CONNACK reason 0x01
        Wire.AssertDecodeFails("5.0 §3.4.2.1", [0x40, 0x03, 0x00, 0x01, 0x02], V500);         // PUBACK reason 0x02
        Wire.AssertDecodeFails("MQTT-3.9.3-2", [0x90, 0x03, 0x00, 0x01, 0x03], V311);         // SUBACK return code 3
        Wire.AssertDecodeFails("5.0 §3.11.3", [0xB0, 0x04, 0x00, 0x01, 0x00, 0x05], V500);   // UNSUBACK reason 0x05
        Wire.AssertDecodeFails("5.0 §3.14.2.1", [0xE0, 0x01, 0x01], V500);                   // DISCONNECT reason 0x01
    }

    [Fact]
    public void Connack_reserved_flags_and_inconsistent_session_present_are_protocol_errors()
    {
        Wire.AssertDecodeFails("3.1.1 §3.2.2.1", [0x20, 0x02, 0x02, 0x00], V311);
        Wire.AssertDecodeFails("MQTT-3.2.2-4", [0x20, 0x02, 0x01, 0x05], V311);
        Wire.AssertDecodeFails("MQTT-3.2.2-6", [0x20, 0x03, 0x01, 0x87, 0x00], V500);
    }

    [Fact]
    public void Connect_header_violations_are_protocol_errors()
    {
        Wire.AssertDecodeFails("MQTT-3.1.2-1", Wire.Bytes(0x10, 0x0D, 0x00, 0x04, "MQTX", 0x04, 0x02, 0x00, 0x1E, 0x00, 0x01, "c"), V311);
        var badLevel = Wire.AssertDecodeFails("MQTT-3.1.2-2", Wire.Bytes(0x10, 0x0D, 0x00, 0x04, "MQTT", 0x03, 0x02, 0x00, 0x1E, 0x00, 0x01, "c"), V311);
        Assert.Equal(0x84, badLevel.ReasonCode);
        Wire.AssertDecodeFails("MQTT-3.1.2-3", Wire.Bytes(0x10, 0x0D, 0x00, 0x04, "MQTT", 0x04, 0x03, 0x00, 0x1E, 0x00, 0x01, "c"), V311);
        Wire.AssertDecodeFails("MQTT-3.1.2-13", Wire.Bytes(0x10, 0x0D, 0x00, 0x04, "MQTT", 0x04, 0x0A, 0x00, 0x1E, 0x00, 0x01, "c"), V311); // will QoS without will
        Wire.AssertDecodeFails("MQTT-3.1.2-15", Wire.Bytes(0x10, 0x0D, 0x00, 0x04, "MQTT", 0x04, 0x22, 0x00, 0x1E, 0x00, 0x01, "c"), V311); // will retain without will
        Wire.AssertDecodeFails("MQTT-3.1.2-12", Wire.Bytes(0x10, 0x0E, 0x00, 0x04, "MQTT", 0x05, 0x1E, 0x00, 0x1E, 0x00, 0x00, 0x01, "c"), V500); // will QoS 3
    }

    [Fact]
    public void Leftover_bytes_after_a_packet_are_a_protocol_error()
    {
        Wire.AssertDecodeFails("3.1.1 §2.2.3", [0x20, 0x03, 0x00, 0x00, 0x00], V311);   // CONNACK with a third byte
        Wire.AssertDecodeFails("5.0 §2.1.4", [0xD0, 0x01, 0x00], V500);                 // PINGRESP with a body
        Wire.AssertDecodeFails("3.1.1 §2.2.3", [0xE0, 0x01, 0x00], V311);               // 3.1.1 DISCONNECT with a body
        Wire.AssertDecodeFails("3.1.1 §2.2.3", [0x40, 0x03, 0x00, 0x01, 0x00], V311);   // 3.1.1 PUBACK with a reason code
        Wire.AssertDecodeFails("5.0 §2.1.4", Wire.Bytes(0x10, 0x0F, 0x00, 0x04, "MQTT", 0x05, 0x02, 0x00, 0x1E, 0x00, 0x00, 0x01, "c", 0xFF), V500);
    }

    [Fact]
    public void Body_shorter_or_longer_than_the_remaining_length_is_a_protocol_error()
    {
        var header = new MqttFixedHeader(MqttPacketType.PubAck, 0, 2, 2);
        Wire.AssertProtocolError("5.0 §2.1.4", () => MqttPacketDecoder.Decode(header, [0x00], V500));
        Wire.AssertProtocolError("3.1.1 §2.2.3", () => MqttPacketDecoder.Decode(header, [0x00, 0x01, 0x02], V311));
    }

    [Fact]
    public void Caller_mistakes_are_argument_errors_not_protocol_errors()
    {
        var header = new MqttFixedHeader(MqttPacketType.PubAck, 0, 2, 2);
        Assert.Throws<ArgumentException>(() => MqttPacketDecoder.Decode(header, [0x00, 0x01], (MqttProtocolVersion)3));
        Assert.Throws<ArgumentException>(() => MqttPacketDecoder.DecodePublish(header, [0x00, 0x01], V500));
        Assert.Throws<ArgumentOutOfRangeException>(() => MqttPacketDecoder.TryReadFixedHeader(new ReadOnlySequence<byte>([0xC0, 0x00]), 0, out _));
    }
}
