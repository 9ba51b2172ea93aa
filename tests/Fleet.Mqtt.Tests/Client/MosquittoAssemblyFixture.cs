using Fleet.TestSupport;

// One Mosquitto for the whole assembly; tests isolate themselves with unique client ids and topics.
[assembly: AssemblyFixture(typeof(MosquittoFixture))]
