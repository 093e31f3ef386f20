# tp-a-3: Grace (34, pastry chef opening a bakery; memory owner) and Walter (68, retired postman,
# widower, beekeeper, bike restorer), next-door neighbours on Lavender Road, Bristol.
# Apr 2024 - Jan 2025. All text hand-written.
CONV = "tp-a-3"
OWNER = "Grace"
NAMES = {"G": "Grace", "W": "Walter"}
QUESTION_TIME = "2025-01-31T08:45:00+00:00"

SESSIONS = [
("2024-04-14T10:20:00+01:00", """
W| Morning Grace. Sorry about the noise earlier, that was me dropping a wheel rim on the patio.
G| Morning Walter! No worries, Milo thought it was thunder and got very excited.
W| Ha. Good news from my side of the fence: Sheldon's woken up. First time out of his box since October. @@w_sheldon_awake
G| Oh brilliant! How is he?
W| Grumpy and slow, like me in the mornings. He's had a strawberry and gone back to sleep under the rosemary.
G| Ha. How old is he now? I always forget.
W| Fifty-two, we think. He was June's before he was mine. She had him since she was a girl. @@w_sheldon_june
G| He'll outlive us all.
W| Very likely. And the bees are flying too. Both hives came through the winter, touch wood. @@w_two_hives
G| That's great news, Walter. Milo keeps asking about the "buzzy boxes".
W| He can come and have a look through the window when it's warmer. Not too close mind.
G| Deal. Can I tell you a secret?
W| Go on, I was a postman for thirty-eight years, I've kept a lot of secrets. @@w_postman
G| I'm thinking of leaving the hotel and opening my own bakery. There's an empty unit on Gloucester Road. @@g_bakery_idea
W| Grace! That's a big step. What does Sam think?
G| Sam's all for it. I'm the one panicking. Twelve years of hotel kitchens and I've never run a business. @@g_twelve_years
W| You make the best cakes on this street. People will queue. I'd queue.
G| That's very kind. Don't tell anyone yet!
W| Not a word. Now go and stop Milo licking the fence.
G| Ha, how did you know?
W| I can see him.
"""),
("2024-04-28T18:05:00+01:00", """
G| Walter, I think I've got a parcel of yours. It came to us by mistake. It's heavy and says "fragile, bicycle parts".
W| Ah, that'll be my Brooks saddle! I've been waiting two weeks. Postman's new, bless him. @@w_brooks_saddle
G| Ha, you must want to go round and teach him.
W| I've been very restrained. I'll pop over for it after tea.
G| Fine, I'll leave it by the door. How's your week been?
W| Quiet. Kathleen rang from Cardiff. She's bringing Alfie up at half term, end of May. @@w_alfie_halfterm
G| Oh lovely. How old is Alfie now?
W| Ten. Wants to be a YouTuber, whatever that is.
G| Ha. Every ten year old. Any plans for him?
W| I've got an old Raleigh Chopper in the shed I thought we'd do up together. My dad gave me the same job when I was his age. @@w_chopper_plan
G| That's so sweet, Walter.
W| We'll see if he puts his phone down long enough. What about you, Grace? Any news on the unit?
G| I went for a second viewing. The landlord's called Mr Hussain, he seems fair. And Milo's starting nursery on the 13th of May, three days a week. @@g_milo_nursery
W| Big changes all round. Is he ready?
G| He is. I'm not. I keep buying him tiny backpacks.
W| Ha. June was the same with Kathleen. Cried in the car park for an hour.
G| That makes me feel better actually.
W| Right, I'll be round for that saddle. Put the kettle on.
"""),
("2024-05-19T15:40:00+01:00", """
W| Grace, you won't believe the afternoon I've had.
G| Uh oh. What happened?
W| One of the hives swarmed. Thousands of bees hanging off the apple tree in a big clump. @@w_swarm
G| Walter! Is everyone okay? I was wondering why you were in the garden in your full suit.
W| All fine. I shook them into a cardboard box and tipped them into a spare hive. So now I've got three hives. @@w_three_hives
G| Three! You're becoming a honey empire.
W| A very small empire. Sorry if any of them visit your washing.
G| Ha, they're welcome. Milo watched you through the window, he was mesmerised.
W| Good lad. Now, you'll have had the leaflet about the street party?
G| The one on the sixth of July? Yes! Are you involved?
W| I'm on the committee, worse luck. Mrs Okonjo roped me in. We're raising money for the community garden on the corner. @@w_street_party_committee
G| Oh I love that. Can I help?
W| I was hoping you'd say that. Any chance you'd do a cake stall?
G| Absolutely. I'll do lemon drizzle and brownies. Loads of them. @@g_cake_stall
W| You're a star, Grace.
G| It's good practice for the bakery anyway. Speaking of which, I'm waiting on the lease paperwork.
W| Fingers crossed. Now I need a cup of tea and a sit down. Bees are exhausting.
"""),
("2024-06-02T19:25:00+01:00", """
G| Walter! Was that Alfie I saw riding up and down the road on an orange bike?
W| It was! We finished the Chopper on Thursday. Took us four days. @@w_chopper_done
G| It looks amazing. Was it hard work?
W| New chain, new tyres, and we painted the frame orange because Alfie insisted. He did most of the painting. Some of it on the bike. @@w_chopper_orange
G| Ha. He looked so proud.
W| He's filming a video about it for his channel. I'm apparently the "guest star".
G| Walter, you're going viral.
W| Heaven help me. He goes back to Cardiff tomorrow. It's been a lovely week.
G| I'm glad. Guess what. I signed the lease on Friday! @@g_signed_lease
W| Grace! That's wonderful news! So it's really happening?
G| It's really happening. Crumb & Co, Gloucester Road. We're aiming to open in September. @@g_bakery_name
W| Crumb and Co. I like that. Who came up with it?
G| Sam, in the bath. All the best ideas happen in the bath apparently.
W| I'll take his word for that. Have you handed in your notice at the hotel?
G| Not yet, I'll do it in July. I need the money till the refit's done.
W| Sensible girl. June always said never jump without a net.
G| She sounds like she was very wise.
W| She was. Much wiser than me. Congratulations, Grace.
"""),
("2024-06-23T12:15:00+01:00", """
W| Grace, have you seen Sheldon? He's not in his run.
G| Oh no. Not since yesterday. Has he escaped again?
W| Looks like he's dug under the fence. He's slow but he's determined.
G| I'll check our garden. Sam's out the back anyway.
W| Thank you. He can't have got far, he does about ten feet an hour.
G| Not in ours. Sam checked under the trampoline and behind the shed.
W| Right. I'll ask down the road.
W| Found him! He was in Mrs Okonjo's garden at number 12, eating her lettuces. @@w_sheldon_okonjo
G| Ha! Walter! Is she cross?
W| She's delighted. She's asked if he can come back and do her weeds.
G| Ha, he's got a new job. Poor lettuces though.
W| I've promised her a jar of honey. Speaking of which, I'm starting the honey harvest this week. @@w_honey_harvest
G| Oh exciting! How much do you think you'll get?
W| Depends on the weather. The swarm set them back a bit.
G| Well if you have any spare I'd love to try it in a bake.
W| I'll save you some, Grace. Also, sorry about the hedge. I know it's hanging over your side.
G| It's fine! Sam said he'll help you cut it, he's got a long trimmer. @@g_sam_hedge
W| That's very kind of him. Tell him I'll make him a bacon sandwich.
G| He'll do anything for a bacon sandwich.
"""),
("2024-07-08T20:30:00+01:00", """
G| Walter, I'm still recovering from Saturday. What a day!
W| Me too. I slept for ten hours, which I haven't done since the Nineties.
G| Did you hear the final total?
W| Six hundred and forty pounds for the community garden. Mrs Okonjo told me this morning. @@w_party_total
G| That's amazing! Way more than last year, isn't it?
W| Nearly double. Your cake stall made a fair bit of that.
G| The lemon drizzle sold out in forty minutes! I couldn't believe it. @@g_drizzle_sold_out
W| I managed one slice before it went. Gorgeous it was.
G| And you were brilliant on the raffle, Walter. You called the numbers like a game show host. @@g_raffle_praise
W| Thirty-eight years of reading addresses, Grace. I've got the voice for it. @@w_raffle
G| Ha. What did the top prize end up being?
W| A hamper from the deli. Won by Mr Pearce at number 3, who won it last year as well. People are muttering.
G| Very suspicious, Walter.
W| Very. And Milo fell asleep under your table, I saw.
G| He did! Curled up on Sam's hoodie with a brownie in his hand.
W| Best place for him. So, what's next for the garden money?
G| Mrs Okonjo wants raised beds and a bench. I told her I'd bake for the opening.
W| You'll be baking for the whole of Bristol soon.
G| That's the dream. Night, Walter.
"""),
("2024-07-28T17:50:00+01:00", """
G| Walter, I did it. I handed my notice in at the Harbourside Hotel on Friday. @@g_notice
W| Good for you, Grace! How did they take it?
G| Chef was sad but nice. He said he'd come and buy croissants. My last day is the 16th of August. @@g_last_day
W| Well there you go. How's the refit coming along?
G| Slowly. My builder, Dariusz, is great but the oven delivery's been delayed. It's coming from Italy. @@g_dariusz_oven
W| Can't bake without an oven.
G| Exactly. It's supposed to arrive in the first week of September now. I'm trying not to panic.
W| It'll come. Now, can I ask you a favour?
G| Of course. Anything.
W| I'm going to Cardiff to stay with Kathleen from the 10th to the 17th of August. Could you water my tomatoes and check on Sheldon? @@w_cardiff_trip
G| Of course! Milo will love it. What does Sheldon need?
W| Water in his dish, some dandelions, and make sure he hasn't dug to Australia.
G| Ha. Noted. What about the bees?
W| The bees look after themselves for a week. Just don't stand in front of the hives.
G| I wasn't planning to, Walter.
W| Good. I'll leave a key under the blue pot.
G| Perfect. Enjoy Cardiff.
"""),
("2024-08-20T11:35:00+01:00", """
W| Grace, I'm home. Thank you for looking after everything.
G| Welcome back! How was Cardiff?
W| Lovely. Alfie showed me his video about the Chopper. It has three hundred views. Most of them are me.
G| Ha. Walter, I'm so sorry, one of your tomato plants died. The big one by the shed. @@g_tomato_died
W| Oh, don't worry about that, Grace. It had blight anyway, I should have pulled it up in July. The rest look grand, and I see somebody picked all the ripe cherry ones. I suspect a small person in dinosaur wellies.
G| And Sheldon's fine. He ate a whole dandelion while Milo watched. Milo said "wow" about fifty times. @@g_sheldon_dandelion
W| That's the best review Sheldon's ever had.
G| Any news from Kathleen?
W| Some, actually. She and Huw are moving to Swansea in the autumn. Huw's got a job at the university there. @@w_kathleen_swansea
G| Oh, that's a bit further for you.
W| Another hour on the train. Alfie's cross about changing schools.
G| Poor Alfie. How was the honey, by the way? Did you finish the harvest?
W| I did, before I went. Eighteen jars! And I've put four by your door. @@w_honey_jars
G| Walter! That's so generous. I'll use them for the bakery.
W| That's what they're for. How's the oven?
G| Still not here. I finished at the hotel on Friday so now I've got all the time in the world and nothing to bake in.
W| It'll come, Grace. Patience.
"""),
("2024-09-08T16:10:00+01:00", """
G| The oven is IN! It came on Tuesday. Dariusz and three men carried it in and I nearly cried. @@g_oven_arrived
W| Hooray! I was starting to think it had gone to Australia with Sheldon.
G| Ha. So we've got an opening date now: Saturday the 21st of September! @@g_opening_date
W| That's two weeks. Are you ready?
G| No. But I will be. Priyanka's starting as my assistant in October, so the first weeks are just me and Sam on weekends.
W| I've got something for you. I was going to wait but I can't.
G| Walter, what have you done?
W| I've restored an old Pashley delivery bike with a big front basket. It's for the bakery. For deliveries, or just for the window. @@w_pashley
G| Walter! Are you serious? That's incredible!
W| It's painted cream and I've put a little brass bell on. I thought you could paint your name on the basket. @@w_pashley_cream
G| I don't know what to say. Thank you so much.
W| It's nothing. It was a wreck at a boot sale. Took me a month.
G| That's not nothing. I'm going to cry again.
W| Save it for opening day. How's Milo liking nursery?
G| He loves it. He learned the word "actually" and now uses it in every sentence.
W| Actually, that's brilliant.
G| Ha! Actually, it is.
"""),
("2024-09-29T18:45:00+01:00", """
W| Well, Grace? I haven't heard a peep since opening day. How did it go?
G| Walter! Sorry, I've been sleeping every second I'm not baking. It was amazing.
W| I saw the queue when I came down in the morning. Round the corner past the launderette!
G| I know! We sold out by one o'clock. Everything. Even the sad-looking scones. @@g_sold_out_opening
W| I told you people would queue.
G| You did. And the honey and fig buns with your honey were the first thing to go. @@g_honey_fig_buns
W| Ha! My bees are famous.
G| They are! Someone from the Bristol Post took a photo of the Pashley in the window, it's in this week's paper. @@g_bristol_post
W| Well I never. I'll buy a copy for Kathleen.
G| Buy ten. I've bought twenty.
W| How are you feeling now the first week's done?
G| Tired but happy. My feet hurt. Sam's been doing the school runs, well, nursery runs.
W| He's a good one, your Sam.
G| He is. How are the bees doing now the weather's turning?
W| Getting ready for winter. One of the hives looks a bit weak. I'm keeping an eye on it.
G| Fingers crossed. Come in for a coffee on the house this week.
W| I'll hold you to that, Grace.
"""),
("2024-10-20T14:00:00+01:00", """
W| Afternoon Grace. Quick update from the bee yard.
G| Hi Walter! Go on.
W| I've merged the weak hive with the swarm colony. Not enough bees to survive winter on their own. So it's back to two hives. @@w_back_two_hives
G| Oh, that's a bit sad. Is it a good thing though?
W| Better two strong hives than three struggling. I've given them fondant for the winter too. @@w_fondant
G| Fondant? Like icing?
W| Basically. Bee icing. Don't put it on your cakes.
G| Ha. Noted. Priyanka started last week by the way, my assistant. She's brilliant. @@g_priyanka
W| Oh good. Does that mean you get a day off?
G| Sunday! We're shutting on Sundays from November. @@g_sunday_closed
W| Thank goodness. You've looked like a ghost for a month.
G| Thanks, Walter. Charming as ever.
W| A lovely ghost. A ghost who makes good croissants.
G| Ha. How's Sheldon?
W| Slowing down. He'll go back in his box in a couple of weeks. I'll put him in the garage, it stays cool.
G| Milo will miss him.
W| He can come and say goodnight to him before he goes down. Make a little ceremony of it.
G| He'd love that. Thank you.
"""),
("2024-11-03T17:30:00+00:00", """
G| Walter, are you going to the fireworks on the Downs on Tuesday?
W| Not this year. I'll watch from the garden. How's Milo with fireworks?
G| He was terrified last year. I think we'll stay in and watch from the bedroom window.
W| Sensible. I wanted to ask you something, Grace.
G| Of course, Walter. Anything.
W| Friday was June's birthday. She'd have been seventy. @@w_june_birthday
G| Oh Walter. I'm so sorry. How are you doing?
W| I'm all right. I went up to the Downs and had a flask of tea on the bench where we used to walk on Sunday mornings. She always brought too many biscuits and fed half of them to other people's dogs. I brought too many biscuits this time, in her honour.
G| That sounds lovely.
W| I found something in the kitchen drawer. Her handwritten recipe for parkin. She made it every bonfire night. @@w_parkin_recipe
G| Oh, that's special.
W| I was wondering if you'd make it. I've tried, but mine came out like a brick. @@w_asks_make
G| Walter, I'd be honoured. Can I borrow the card? I'll take good care of it.
W| I'll bring it round. Her handwriting's terrible, mind. She wrote "oats" like "cats".
G| Ha. I'll ring you if I find cats in the ingredients.
W| Thank you, Grace. It means a lot.
G| Of course. Oh, and Mrs Okonjo says the raised beds are built in the community garden.
W| I saw! Three of them, all with the money from the street party. @@w_raised_beds
G| We did good.
"""),
("2024-11-24T09:15:00+00:00", """
W| Grace, I'm sorry to bother you on a Sunday. My boiler's packed in. No heating, no hot water.
G| Oh no! Walter, it's freezing. Hang on, I'll get Sam. He's a heating engineer, remember? @@g_sam_engineer
W| I don't want to ruin his day off.
G| He's already putting his boots on. He says he'll be round in ten minutes.
W| You're both very kind.
W| Sam's a magician. It was the pressure, something about a valve. Fixed in twenty minutes. @@g_sam_boiler
G| Told you! He loves a boiler.
W| He wouldn't take a penny. I'm giving him a jar of honey whether he likes it or not. @@w_no_penny
G| He'll like it. How's the house warming up?
W| Toasty. Now, the parkin. Did it work?
G| It worked! I've made it three times to get it right. The trick is leaving it a few days wrapped up so it goes sticky. @@g_parkin_works
W| That's what June always did. She'd hide it in the cupboard for a week.
G| And Walter, I hope this is okay. I've put it on the menu at the bakery. It's called June's Parkin. @@g_junes_parkin_menu
W| Oh, Grace. I don't know what to say.
G| Is that all right? I can take it off.
W| No, no. It's perfect. She'd have been thrilled. She always wanted people to taste it.
G| I'll save you the first slice on Monday.
W| I'll be there at opening time.
"""),
("2024-12-08T18:20:00+00:00", """
G| Walter, I've got a mince pie emergency.
W| That's a sentence I never thought I'd hear. What's happened?
G| We've got four hundred mince pies ordered for Christmas already. Four hundred! @@g_400_mince_pies
W| That's wonderful! Isn't it?
G| It is, but Priyanka and I have to make them all. I'm dreaming about pastry.
W| I could come and help. I'm very good at putting lids on things.
G| Walter, I might take you up on that.
W| I'm serious. I've got nothing on until the 23rd. Then I'm off to Kathleen's in Swansea for Christmas. @@w_christmas_swansea
G| Oh good, so they've settled in?
W| They have. Alfie's made friends already, and there's a skate park near the new house. @@w_skate_park
G| That's great. Is that why he wants a bike for Christmas?
W| How did you know?
G| You told me last week he was asking for a BMX.
W| So I did. I'm doing up an old one for him in the shed. A Mongoose from the Eighties. Don't tell him. @@w_bmx
G| Your secret's safe. He'll love it.
W| The hard bit is getting it to Swansea on the train.
G| Sam can drive you to Temple Meads. @@g_temple_meads
W| You two are spoiling me.
G| You're spoiling all of us with honey. It's only fair.
"""),
("2024-12-29T12:05:00+00:00", """
W| Happy Christmas, Grace! Well, nearly New Year. Just got back from Swansea.
G| Happy Christmas, Walter! How was it? Did Alfie like the bike?
W| He screamed. Properly screamed. He rode it round the car park in his pyjamas on Christmas morning. @@w_bmx_gift
G| Ha! That's the best thing I've heard all week.
W| Then he made a video of it, naturally. How was Christmas Eve at the bakery?
G| Mad. We sold six hundred mince pies in the end. The queue was out the door from seven in the morning. @@g_600_mince_pies
W| Six hundred! And four hundred of them were pre-ordered?
G| Yes! So two hundred extra on the day. I'm never making pastry again. Until Thursday.
W| Ha. And did you have a nice Christmas yourself?
G| Walter... I have news. Sam proposed! On Christmas Day! @@g_engaged
W| Grace! Oh, that's wonderful! Congratulations!
G| He hid the ring in Milo's stocking, and Milo found it first and tried to eat it. @@g_ring_stocking
W| Ha! Classic Milo. I'm so pleased for you both.
G| Thank you. I'm still a bit in shock.
W| Have you set a date?
G| Not yet. Probably late summer. We'll see.
W| Well, whatever you need. I'm very good at putting lids on things.
G| Ha, I'll remember that.
"""),
("2025-01-19T15:30:00+00:00", """
W| Afternoon Grace. I've just hefted the hives, lifted the back to feel the weight. Both still heavy. Good news. @@w_hefted
G| Hi Walter! That sounds like a weird gym exercise.
W| It's the bee equivalent of checking the cupboards. Means they've still got food.
G| Ah. That's a relief. How's Sheldon?
W| Still asleep in the garage. I check on him once a week. He's fine. @@w_sheldon_garage
G| Good. I have a question for you, actually.
W| Go on, ask away.
G| Milo's turning three next Saturday and we're having a little party. Would you come? @@g_milo_third
W| I'd love to. What does a three-year-old want these days?
G| Anything with wheels. Or dinosaurs. Ideally dinosaurs on wheels.
W| I'll see what the shed has. Actually, Grace, can I tell you something? But you mustn't tell Sam.
G| Ooh. I promise.
W| I've found an old tandem. I'm going to restore it as a wedding present for you both. @@w_tandem
G| WALTER. A tandem?!
W| You can ride off from the wedding on it. June and I had one in the Seventies. We fell off it on the Portway.
G| I love it. I love you. Don't tell Sam I said that either.
W| My lips are sealed. Have you picked a date yet?
G| We've booked it! Saturday the 23rd of August. At the community garden, actually, if Mrs Okonjo lets us. @@g_wedding_date
W| In the garden we built? Oh, that's perfect.
G| Will you give a reading?
W| Grace, I'd be honoured.
"""),
]

QUESTIONS = [
# single-hop
("single-hop", "Who did Sheldon the tortoise originally belong to?", "Walter's late wife June, who had him since she was a girl.", "w_sheldon_june"),
("single-hop", "What was in the parcel that was delivered to Grace by mistake?", "Walter's Brooks saddle (bicycle parts).", "w_brooks_saddle"),
("single-hop", "How many days a week does Milo go to nursery?", "Three days a week.", "g_milo_nursery"),
("single-hop", "How did Walter deal with the swarm from his hive?", "He shook the bees off the apple tree into a cardboard box and tipped them into a spare hive.", "w_swarm w_three_hives"),
("single-hop", "What did Grace offer to make for the street party?", "A cake stall with lemon drizzle and brownies.", "g_cake_stall"),
("single-hop", "What colour did Alfie and Walter paint the Chopper?", "Orange; Alfie insisted.", "w_chopper_done w_chopper_orange"),
("single-hop", "What is Grace's bakery called?", "Crumb & Co, on Gloucester Road.", "g_bakery_name"),
("single-hop", "Where was Sheldon found after he escaped?", "In Mrs Okonjo's garden at number 12, eating her lettuces.", "w_sheldon_okonjo"),
("single-hop", "What job did Walter do at the street party?", "He ran the raffle and called the numbers.", "g_raffle_praise w_raffle"),
("single-hop", "Which hotel did Grace work at before the bakery?", "The Harbourside Hotel.", "g_notice"),
("single-hop", "Who did the building work on Grace's bakery?", "Dariusz.", "g_dariusz_oven"),
("single-hop", "Why are Kathleen and Huw moving to Swansea?", "Huw got a job at the university there.", "w_kathleen_swansea"),
("single-hop", "How many jars of honey did Walter harvest?", "Eighteen jars.", "w_honey_jars"),
("single-hop", "What gift did Walter make for Grace's bakery before it opened?", "He restored an old Pashley delivery bike with a big front basket, painted cream with a brass bell.", "w_pashley w_pashley_cream"),
("single-hop", "Which newspaper featured Grace's bakery?", "The Bristol Post, with a photo of the Pashley bike in the window.", "g_bristol_post"),
("single-hop", "Who is Grace's assistant at the bakery?", "Priyanka.", "g_priyanka"),
("single-hop", "What keepsake of June's did Walter come across around her birthday?", "Her handwritten recipe for parkin.", "w_parkin_recipe"),
("single-hop", "What is Grace's trick for getting the parkin right?", "Leaving it wrapped up for a few days so it goes sticky.", "g_parkin_works"),
("single-hop", "How did Sam propose to Grace?", "On Christmas Day, with the ring hidden in Milo's stocking; Milo found it first and tried to eat it.", "g_engaged g_ring_stocking"),
# multi-hop
("multi-hop", "How many beehives does Walter have now, and how did the number change during the year?", "Two. He had two in April, three after catching a swarm in May, then merged the weak hive back in October.", "w_two_hives w_three_hives w_back_two_hives"),
("multi-hop", "How was Walter's honey used in Grace's bakery?", "He gave her four jars from his eighteen-jar harvest, and she used them in honey and fig buns, which were the first thing to sell out on opening day.", "w_honey_jars g_honey_fig_buns"),
("multi-hop", "Which bikes has Walter restored this year, and who were they for?", "A Raleigh Chopper with Alfie, a Pashley delivery bike for Grace's bakery, an 1980s Mongoose BMX for Alfie's Christmas, and now a tandem as a wedding present for Grace and Sam.", "w_chopper_plan w_chopper_done w_pashley w_bmx w_tandem"),
("multi-hop", "How has Sam helped Walter?", "He offered to help cut Walter's overhanging hedge with his long trimmer, and he fixed Walter's broken boiler for free.", "g_sam_hedge g_sam_engineer g_sam_boiler w_no_penny"),
("multi-hop", "What was the street party money spent on?", "The £640 raised went to the community garden on the corner, which used it to build three raised beds.", "w_party_total w_raised_beds"),
("multi-hop", "Why is there a cake called June's Parkin at Crumb & Co?", "Walter found his late wife June's handwritten parkin recipe after what would have been her 70th birthday and asked Grace to make it; she got it right and named it after June on the bakery menu.", "w_june_birthday w_parkin_recipe w_asks_make g_junes_parkin_menu"),
("multi-hop", "How many mince pies did Crumb & Co sell on Christmas Eve beyond the pre-orders?", "About two hundred extra: four hundred were pre-ordered and six hundred were sold in total.", "g_400_mince_pies g_600_mince_pies"),
("multi-hop", "Where does Walter's daughter live now, and where did she live before?", "Swansea, where she moved with Huw in the autumn; before that she lived in Cardiff.", "w_alfie_halfterm w_kathleen_swansea"),
("multi-hop", "Why is the community garden an especially fitting place for Grace's wedding?", "Grace and Walter helped raise the money that built it: she ran the cake stall at the street party and he was on the committee and ran the raffle.", "w_street_party_committee g_cake_stall g_raffle_praise w_party_total g_wedding_date"),
("multi-hop", "What has Sheldon the tortoise got up to this year?", "He woke from hibernation in April, dug under the fence in June and ate Mrs Okonjo's lettuces, was looked after by Grace and Milo in August, and went back into hibernation in the garage.", "w_sheldon_awake w_sheldon_okonjo g_sheldon_dandelion w_sheldon_garage"),
("multi-hop", "What did Grace do when she looked after Walter's house, and did anything go wrong?", "She watered his tomatoes and looked after Sheldon while he was in Cardiff; the big tomato plant by the shed died.", "w_cardiff_trip g_tomato_died"),
("multi-hop", "Did the bakery open on the schedule Grace first planned?", "Roughly. She planned a September opening after signing the lease; the Italian oven was delayed but arrived in early September, and the bakery opened on 21 September.", "g_bakery_name g_dariusz_oven g_oven_arrived g_opening_date"),
# temporal
("temporal", "When did Grace sign the lease on the bakery unit?", "Friday 31 May 2024.", "g_signed_lease"),
("temporal", "When did Walter and Alfie finish restoring the Chopper?", "Thursday 30 May 2024, after four days' work.", "w_chopper_done"),
("temporal", "When did Grace hand in her notice at the hotel, and when was her last day?", "She handed it in on Friday 26 July 2024; her last day was 16 August 2024.", "g_notice g_last_day"),
("temporal", "When did the bakery's oven arrive?", "Tuesday 3 September 2024.", "g_oven_arrived"),
("temporal", "When is June's birthday?", "1 November; in 2024 she would have turned seventy.", "w_june_birthday"),
("temporal", "How long was Walter away in Cardiff?", "A week, from 10 to 17 August 2024.", "w_cardiff_trip"),
("temporal", "How long after Grace first mentioned the bakery idea did it open?", "About five months: she mentioned it on 14 April 2024 and it opened on 21 September 2024.", "g_bakery_idea g_opening_date"),
("temporal", "What date is Milo's third birthday?", "Saturday 25 January 2025.", "g_milo_third"),
("temporal", "When did Grace get engaged, and when is the wedding?", "On Christmas Day 2024; the wedding is on Saturday 23 August 2025.", "g_engaged g_wedding_date"),
# open-domain
("open-domain", "Is Walter likely to know a lot about his local area's streets?", "Yes. He was a postman for thirty-eight years.", "w_postman w_raffle"),
("open-domain", "What kind of cake is parkin, and where does it traditionally come from?", "A sticky gingerbread cake made with oats and treacle, traditionally from northern England and eaten around bonfire night.", "w_parkin_recipe"),
("open-domain", "Why did Walter give his bees fondant in October?", "Fondant is sugar food that keeps a colony alive through winter when there is no nectar.", "w_fondant"),
("open-domain", "What British bike brand did Walter and Alfie restore first, and what is that model famous for?", "A Raleigh Chopper, the 1970s bike with a long seat and high handlebars.", "w_chopper_plan w_chopper_done"),
("open-domain", "Would a trip to a skate park suit Alfie's Christmas present?", "Yes. He got a BMX, and there is a skate park near his new house in Swansea.", "w_skate_park w_bmx_gift"),
("open-domain", "What is Grace's likely professional speciality?", "Pastry and baking. She spent twelve years in hotel kitchens and now runs her own bakery.", "g_bakery_idea g_twelve_years"),
("open-domain", "Which Bristol railway station did Grace suggest Walter leave from for Swansea?", "Bristol Temple Meads, the city's main station.", "g_temple_meads"),
]
