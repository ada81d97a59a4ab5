"""The simulated IBKR gateway: TWS wire protocol v178 server, market model, order book,
account, fault injection and a Flex Web Service, all on 127.0.0.1."""
